"""Whole-layer downloads: every format read back with pyogrio, CRS, names, access, errors."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import DOWNLOAD_TOKEN, REDLINE_COUNT

URL = "/v1/layers/eco_redline/download"


def _version_hex(client: TestClient, layer: str) -> str:
    return client.get(f"/v1/layers/{layer}").json()["version"].split(":")[1][:12]


def test_geojson_is_streamed_rfc7946(client: TestClient) -> None:
    with client.stream("GET", URL, params={"format": "geojson"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/geo+json")
        assert "content-length" not in r.headers  # streamed, not built in memory
        chunks = list(r.iter_raw())
    assert len(chunks) >= 3  # head, features, tail
    doc = json.loads(b"".join(chunks))
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == REDLINE_COUNT
    x, y = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert 100 < x < 103 and 36 < y < 37  # lon/lat order
    name = f"eco_redline_{_version_hex(client, 'eco_redline')}_CRS84.geojson"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'


def test_geojson_in_another_crs_is_422(client: TestClient) -> None:
    r = client.get(URL, params={"format": "geojson", "crs": "EPSG:4490"})
    assert r.status_code == 422
    assert r.json()["field"] == "crs"
    assert "gpkg" in r.json()["hint"]


@pytest.mark.parametrize(("fmt", "ext"), [("gpkg", "gpkg"), ("fgb", "fgb")])
def test_file_formats_round_trip(client: TestClient, tmp_path: Path, fmt: str, ext: str) -> None:
    r = client.get(URL, params={"format": fmt})
    assert r.status_code == 200
    assert f"_EPSG4490.{ext}" in r.headers["content-disposition"]
    path = tmp_path / f"out.{ext}"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert len(gdf) == REDLINE_COUNT
    assert gdf.crs.to_epsg() == 4490
    assert sorted(gdf["name"])[0] == "红线斑块1"
    assert gdf.total_bounds == pytest.approx([101.70, 36.60, 101.84, 36.74])


def test_gpkg_in_gauss_kruger_zone(client: TestClient, tmp_path: Path, data_dir: Path) -> None:
    r = client.get(URL, params={"format": "gpkg", "crs": "EPSG:4543"})
    assert r.status_code == 200
    path = tmp_path / "gk.gpkg"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == 4543
    source = gpd.read_parquet(data_dir / "layers" / "eco_redline.parquet")
    expected = source.to_crs(epsg=4543).total_bounds  # easting first, as files expect
    np.testing.assert_allclose(gdf.total_bounds, expected, atol=0.01)
    assert 400_000 < expected[0] < 600_000  # CM variant: no zone prefix


def test_shapefile_zip_has_utf8_cpg_and_chinese_names(client: TestClient, tmp_path: Path) -> None:
    r = client.get(URL, params={"format": "shp"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].endswith('_EPSG4490.zip"')
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = set(zf.namelist())
        assert {"eco_redline.shp", "eco_redline.dbf", "eco_redline.shx", "eco_redline.prj"} <= names
        assert zf.read("eco_redline.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        zf.extractall(tmp_path)
    gdf = pyogrio.read_dataframe(tmp_path / "eco_redline.shp")
    assert len(gdf) == REDLINE_COUNT
    assert "红线斑块1" in set(gdf["name"])


def test_lines_download(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/v1/layers/rivers/download", params={"format": "fgb", "crs": "EPSG:4326"})
    assert r.status_code == 200
    path = tmp_path / "rivers.fgb"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == 4326
    assert set(gdf.geom_type) == {"LineString"}
    np.testing.assert_allclose(gdf.total_bounds, [101.5, 36.5, 101.9, 36.7])


def test_unknown_format_and_crs_are_422_naming_the_field(client: TestClient) -> None:
    r = client.get(URL, params={"format": "kml"})
    assert r.status_code == 422
    assert r.json()["field"] == "format"
    r = client.get(URL, params={"format": "gpkg", "crs": "EPSG:3857"})
    assert r.status_code == 422
    assert r.json()["field"] == "crs"
    assert "4490" in r.json()["hint"]
    r = client.get(URL, params={"format": "gpkg", "crs": "wgs84 please"})
    assert r.status_code == 422
    assert r.json()["field"] == "crs"


def test_restricted_layer_403_without_token(client: TestClient) -> None:
    url = "/v1/layers/national_park/download"
    r = client.get(url, params={"format": "gpkg"})
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get(url, headers={"Authorization": DOWNLOAD_TOKEN}).status_code == 403
    ok = client.get(url, headers={"Authorization": f"Bearer {DOWNLOAD_TOKEN}"})
    assert ok.status_code == 200
    assert json.loads(ok.content)["features"][0]["id"] == "NP1"


def test_restricted_layer_403_even_with_token_when_server_has_none(data_dir: Path) -> None:
    from app.main import create_app
    from tests.app.conftest import settings_for

    app = create_app(settings_for(data_dir, download_token=None))
    with TestClient(app) as c:
        r = c.get("/v1/layers/national_park/download", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403


def test_raster_and_unknown_layers(client: TestClient) -> None:
    assert client.get("/v1/layers/dem/download").status_code == 404
    r = client.get("/v1/layers/nope/download")
    assert r.status_code == 404
    assert r.json()["field"] == "layer_id"
