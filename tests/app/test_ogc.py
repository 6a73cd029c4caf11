"""OGC API – Features through TestClient: documents, paging, filters, Part 2 CRS, access, HTML."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from app.ogc.crs import CRS84_URI, gk_codes_for_bbox, parse_crs
from tests.app.conftest import DOWNLOAD_TOKEN, REDLINE_COUNT

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
ITEMS = "/ogc/collections/eco_redline/items"


def _rels(doc: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for link in doc["links"]:
        out.setdefault(link["rel"], []).append(link)
    return out


def test_landing_links_what_clients_need(client: TestClient) -> None:
    doc = client.get("/ogc").json()
    rels = _rels(doc)
    for rel in ("self", "conformance", "data", "service-desc", "service-doc"):
        assert rel in rels, rel
    assert client.get(rels["service-desc"][0]["href"]).json()["paths"]


def test_conformance_declares_core_geojson_html_oas30_crs(client: TestClient) -> None:
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    for suffix in ("conf/core", "conf/geojson", "conf/html", "conf/oas30", "2/1.0/conf/crs"):
        assert any(c.endswith(suffix) for c in classes), suffix


def test_collections_list_vectors_not_rasters(client: TestClient) -> None:
    doc = client.get("/ogc/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert ids == ["eco_redline", "national_park", "rivers"]
    assert client.get("/ogc/collections/dem").status_code == 404


def test_collection_crs_list_has_gk_zones_over_bbox(client: TestClient) -> None:
    doc = client.get("/ogc/collections/eco_redline").json()
    assert doc["storageCrs"] == EPSG.format(4490)
    crs = doc["crs"]
    assert crs[:3] == [CRS84_URI, EPSG.format(4326), EPSG.format(4490)]
    # 101.7–101.84°E: 3° zone 34 (CM 102°E) and 6° zone 17 (CM 99°E), both spellings.
    for code in (4522, 4543, 4495, 4506):
        assert EPSG.format(code) in crs
    assert EPSG.format(4521) not in crs
    assert doc["extent"]["spatial"]["bbox"][0] == [101.7, 36.6, 101.84, 36.74]
    assert doc["extent"]["temporal"]["interval"] == [["2023-10-01", None]]


def test_gk_codes_match_the_epsg_central_meridians() -> None:
    from pyproj import CRS

    for code in gk_codes_for_bbox(89.0, 103.5):
        crs = CRS.from_epsg(code)
        cm = next(p.value for p in crs.coordinate_operation.params if "longitude" in p.name.lower())
        assert 89.0 - 3 <= cm <= 103.5 + 3, (code, cm)


def test_paging_with_next_prev_and_counts(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = f"{ITEMS}?limit=7"
    pages = 0
    while url:
        doc = client.get(url).json()
        assert doc["numberMatched"] == REDLINE_COUNT
        assert doc["numberReturned"] == len(doc["features"])
        seen.extend(f["id"] for f in doc["features"])
        rels = _rels(doc)
        if pages:
            assert "prev" in rels
        url = rels["next"][0]["href"] if "next" in rels else None
        pages += 1
    assert pages == 4
    assert seen == [f"RL{i:03d}" for i in range(1, REDLINE_COUNT + 1)]


def test_default_limit_is_10_and_max_is_clamped(client: TestClient) -> None:
    assert client.get(ITEMS).json()["numberReturned"] == 10
    assert client.get(f"{ITEMS}?limit=50000").json()["numberReturned"] == REDLINE_COUNT
    r = client.get(f"{ITEMS}?limit=0")
    assert r.status_code == 400  # OGC: invalid parameter values are 400, not 422
    assert r.json()["field"] == "limit"


def test_items_are_geojson_with_content_crs(client: TestClient) -> None:
    r = client.get(f"{ITEMS}?limit=1")
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["content-crs"] == f"<{CRS84_URI}>"
    feat = r.json()["features"][0]
    assert feat["id"] == "RL001"
    assert feat["properties"]["name"] == "红线斑块1"
    assert feat["geometry"]["type"] == "Polygon"
    xs = [p[0] for p in feat["geometry"]["coordinates"][0]]
    assert min(xs) == pytest.approx(101.70)


def test_crs_4490_and_4326_are_lat_lon_ordered(client: TestClient) -> None:
    for code in (4490, 4326):
        r = client.get(f"{ITEMS}?limit=1&crs={EPSG.format(code)}")
        assert r.headers["content-crs"] == f"<{EPSG.format(code)}>"
        ring = r.json()["features"][0]["geometry"]["coordinates"][0]
        assert min(p[0] for p in ring) == pytest.approx(36.60)  # latitude first
        assert min(p[1] for p in ring) == pytest.approx(101.70)


def test_crs_gauss_kruger_is_projected_northing_first(client: TestClient) -> None:
    lonlat = np.array(
        client.get(f"{ITEMS}?limit=1").json()["features"][0]["geometry"]["coordinates"][0]
    )
    r = client.get(f"{ITEMS}?limit=1&crs={EPSG.format(4522)}")
    ring = np.array(r.json()["features"][0]["geometry"]["coordinates"][0])
    tr = Transformer.from_crs("EPSG:4490", "EPSG:4522", always_xy=True)
    east, north = tr.transform(lonlat[:, 0], lonlat[:, 1])
    assert east.min() > 34_000_000  # zone-prefixed easting
    np.testing.assert_allclose(ring[:, 0], north, atol=0.01)
    np.testing.assert_allclose(ring[:, 1], east, atol=0.01)


def test_crs_not_offered_or_unknown_is_400(client: TestClient) -> None:
    r = client.get(f"{ITEMS}?crs={EPSG.format(4521)}")  # GK zone 33 does not cover the layer
    assert r.status_code == 400
    assert r.json()["field"] == "crs"
    r = client.get(f"{ITEMS}?crs=EPSG:999999")
    assert r.status_code == 400
    r = client.get(f"{ITEMS}?crs=not-a-crs")
    assert r.status_code == 400
    assert r.json()["field"] == "crs"


def test_bbox_in_crs84_and_in_lat_lon_bbox_crs(client: TestClient) -> None:
    box = "101.69,36.59,101.725,36.625"  # the first square only
    doc = client.get(f"{ITEMS}?bbox={box}").json()
    assert [f["id"] for f in doc["features"]] == ["RL001"]
    swapped = "36.59,101.69,36.625,101.725"
    doc = client.get(f"{ITEMS}?bbox={swapped}&bbox-crs={EPSG.format(4490)}").json()
    assert [f["id"] for f in doc["features"]] == ["RL001"]
    # The same box in GK zone 34 (northing, easting) finds the same square.
    tr = Transformer.from_crs("EPSG:4490", "EPSG:4522", always_xy=True)
    e0, n0 = tr.transform(101.695, 36.595)
    e1, n1 = tr.transform(101.715, 36.615)
    doc = client.get(f"{ITEMS}?bbox={n0},{e0},{n1},{e1}&bbox-crs={EPSG.format(4522)}").json()
    assert [f["id"] for f in doc["features"]] == ["RL001"]


def test_bad_bbox_names_the_field(client: TestClient) -> None:
    for value in ("1,2,3", "a,b,c,d", "1,2,nan,4"):
        r = client.get(f"{ITEMS}?bbox={value}")
        assert r.status_code == 400, value
        assert r.json()["field"] == "bbox"


def test_property_filters_and_unknown_parameters(client: TestClient) -> None:
    doc = client.get(f"{ITEMS}?zone_class=core&limit=100").json()
    assert doc["numberMatched"] == 5
    assert {f["properties"]["zone_class"] for f in doc["features"]} == {"core"}
    doc = client.get(f"{ITEMS}?name=红线斑块7").json()
    assert [f["id"] for f in doc["features"]] == ["RL007"]
    r = client.get(f"{ITEMS}?colour=red")
    assert r.status_code == 400
    assert r.json()["field"] == "colour"
    assert "zone_class" in r.json()["hint"]


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("2006-01-01", ["R1"]),
        ("2012-05-01T10:00:00Z", ["R1", "R2"]),
        ("../1995-01-01", ["R3"]),
        ("2004-01-01/..", ["R1", "R2", "R3"]),
        ("1980-01-01/1989-12-31", []),
    ],
)
def test_datetime_uses_feature_validity(client: TestClient, value: str, ids: list[str]) -> None:
    doc = client.get(f"/ogc/collections/rivers/items?datetime={value}").json()
    assert [f["id"] for f in doc["features"]] == ids


def test_datetime_uses_layer_as_of_without_feature_dates(client: TestClient) -> None:
    assert client.get(f"{ITEMS}?datetime=2024-01-01").json()["numberMatched"] == REDLINE_COUNT
    assert client.get(f"{ITEMS}?datetime=2020-01-01").json()["numberMatched"] == 0
    r = client.get(f"{ITEMS}?datetime=2024-13-01")
    assert r.status_code == 400
    assert r.json()["field"] == "datetime"
    assert client.get(f"{ITEMS}?datetime=2024-02-01/2023-01-01").status_code == 400


def test_single_item_and_missing_item(client: TestClient) -> None:
    r = client.get(f"{ITEMS}/RL005")
    assert r.status_code == 200
    doc = r.json()
    assert doc["type"] == "Feature"
    assert doc["id"] == "RL005"
    assert "collection" in _rels(doc)
    r = client.get(f"{ITEMS}/nope")
    assert r.status_code == 404
    assert r.json()["field"] == "featureId"


def test_restricted_items_need_the_download_token(client: TestClient) -> None:
    url = "/ogc/collections/national_park/items"
    assert client.get("/ogc/collections/national_park").status_code == 200  # listed
    r = client.get(url)
    assert r.status_code == 403
    assert r.json()["field"] == "Authorization"
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(f"{url}/NP1").status_code == 403
    ok = client.get(url, headers={"Authorization": f"Bearer {DOWNLOAD_TOKEN}"})
    assert ok.status_code == 200
    assert ok.json()["features"][0]["properties"]["name"] == "三江源国家公园"


def test_html_by_f_and_by_accept(client: TestClient) -> None:
    r = client.get(f"{ITEMS}?f=html&limit=3")
    assert r.headers["content-type"].startswith("text/html")
    assert "红线斑块1" in r.text
    assert r.headers["content-crs"] == f"<{CRS84_URI}>"
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    r = client.get("/ogc/collections", headers=browser)
    assert r.headers["content-type"].startswith("text/html")
    assert "生态保护红线" in r.text
    gdal = {"Accept": "application/geo+json, application/json"}
    assert (
        client.get("/ogc/collections", headers=gdal).headers["content-type"] == "application/json"
    )
    assert client.get("/ogc?f=xml").status_code == 400


def test_queryables_lists_filterable_columns(client: TestClient) -> None:
    doc = client.get("/ogc/collections/eco_redline/queryables").json()
    assert {"name", "zone_class", "code"} <= set(doc["properties"])


def test_parse_crs_accepts_uri_curie_and_short_forms() -> None:
    assert parse_crs("EPSG:4490").uri == EPSG.format(4490)
    assert parse_crs("[EPSG:4490]").swap_xy
    assert parse_crs("urn:ogc:def:crs:EPSG::4326").uri == EPSG.format(4326)
    assert not parse_crs("OGC:CRS84").swap_xy
