"""``POST /v1/sites/parse``: uploads become one site; unsafe or broken files get a clear 4xx."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.reliability.inputs import zip_of


def _shapefile_zip(tmp_path: Path, crs: str, geom: shapely.Geometry, drop: str | None = None) -> bytes:
    gdf = gpd.GeoDataFrame({"名称": ["厂址"]}, geometry=[geom], crs=crs)
    gdf.to_file(tmp_path / "site.shp", encoding="gbk")
    parts = {p.name: p.read_bytes() for p in tmp_path.glob("site.*") if p.suffix != drop}
    return zip_of(parts)


def test_geojson_feature_collection_is_merged(client: TestClient) -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [101.0, 36.0]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [101.1, 36.1]}},
    ]}
    r = client.post("/v1/sites/parse", files={"file": ("sites.geojson", json.dumps(fc))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["feature_count"] == 2
    assert body["geometry"]["type"] == "MultiPoint"
    assert any("merged" in w for w in body["warnings"])


def test_gauss_kruger_shapefile_is_returned_in_lonlat(client: TestClient, tmp_path: Path) -> None:
    # EPSG:4521 = CGCS2000 3° GK zone 33 with the zone prefixed to the easting (CM 99°E).
    x, y = 33_500_000.0, 4_000_000.0
    payload = _shapefile_zip(tmp_path, "EPSG:4521", shapely.box(x, y, x + 1000, y + 1000))
    r = client.post("/v1/sites/parse", files={"file": ("site.zip", payload)})
    assert r.status_code == 200, r.text
    lon, lat = shapely.geometry.shape(r.json()["geometry"]).centroid.coords[0]
    assert 98.9 < lon < 99.1 and 36.0 < lat < 36.2
    assert "4521" in r.json()["source_crs"]


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("evil.zip", zip_of({"../../x.shp": b"x"}), "outside the archive"),
        ("abs.zip", zip_of({"/etc/x.geojson": b"{}"}), "outside the archive"),
        ("bomb.zip", zip_of({"big.geojson": b" " * (20 * 1024 * 1024)}), "zip bomb"),
        ("xxe.kml", b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml>&x;</kml>',
         "DOCTYPE"),
        ("empty.geojson", b"", "empty"),
        ("notes.txt", b"hello", "not accepted"),
        ("broken.geojson", b'{"type": "FeatureCollection", "features": [', "cannot read"),
        ("notzip.zip", b"PK-not-really", "not a valid zip"),
    ],
)
def test_unsafe_or_broken_uploads_are_refused(client: TestClient, name: str, payload: bytes, expected: str) -> None:
    r = client.post("/v1/sites/parse", files={"file": (name, payload)})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "file"
    assert expected in body["detail"]


def test_shapefile_without_shx_is_refused(client: TestClient, tmp_path: Path) -> None:
    payload = _shapefile_zip(tmp_path, "EPSG:4490", shapely.box(101, 36, 101.01, 36.01), drop=".shx")
    r = client.post("/v1/sites/parse", files={"file": ("site.zip", payload)})
    assert r.status_code == 422
    assert ".shx" in r.json()["detail"]


def test_declared_gcj02_is_converted(client: TestClient) -> None:
    gj = {"type": "Point", "coordinates": [101.78, 36.62]}
    r = client.post("/v1/sites/parse", files={"file": ("p.geojson", json.dumps(gj))}, data={"crs": "GCJ02"})
    assert r.status_code == 200, r.text
    lon, lat = r.json()["geometry"]["coordinates"]
    # GCJ-02 is offset from WGS84 by a few hundred metres in Qinghai; the answer must move.
    assert 0.0005 < abs(lon - 101.78) + abs(lat - 36.62) < 0.02


def test_uploads_have_their_own_size_limit(data_dir: Path) -> None:
    """A file upload may exceed the JSON body limit, up to ZONING_MAX_UPLOAD_BYTES."""
    from app.main import create_app
    from tests.app.conftest import settings_for

    settings = settings_for(data_dir, max_body_bytes=2_000, max_upload_bytes=200_000)
    ring = [[101.0 + i * 1e-4, 36.0 + (i % 2) * 1e-4] for i in range(300)]
    big = json.dumps({"type": "LineString", "coordinates": ring})
    assert 2_000 < len(big) < 200_000
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/sites/parse", files={"file": ("line.geojson", big)}).status_code == 200
        huge = c.post("/v1/sites/parse", files={"file": ("big.geojson", " " * 300_000)})
        assert huge.status_code == 413
        assert huge.json()["field"] == "file"
        body = c.post("/v1/screen", json={"geometry": {"type": "LineString", "coordinates": ring}})
        assert body.status_code == 413
        assert body.json()["field"] == "body"
