"""Real clients nobody here wrote, against a live uvicorn on loopback: GDAL OAPIF and OWSLib."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest

from tests.app.conftest import DOWNLOAD_TOKEN, REDLINE_COUNT

pytestmark = pytest.mark.network_tools
needs_gdal = pytest.mark.skipif(
    shutil.which("ogr2ogr") is None, reason="GDAL command-line tools (gdal-bin) not installed"
)


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _oapif_supports_crs_option() -> bool:
    out = subprocess.run(["ogrinfo", "--format", "OAPIF"], capture_output=True, text=True).stdout
    return 'name="CRS"' in out


@needs_gdal
def test_ogrinfo_lists_the_collections(live_server: str) -> None:
    out = _run("ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc")
    for layer in ("eco_redline", "rivers", "national_park"):
        assert layer in out
    assert "dem" not in out
    summary = _run("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "eco_redline")
    assert f"Feature Count: {REDLINE_COUNT}" in summary


@needs_gdal
@pytest.mark.parametrize("page_size", ["7", "10000"])
def test_ogr2ogr_fetches_every_feature(
    live_server: str, tmp_path: Path, data_dir: Path, page_size: str
) -> None:
    out = tmp_path / "out.gpkg"
    _run(
        "ogr2ogr",
        "-f",
        "GPKG",
        "-oo",
        f"PAGE_SIZE={page_size}",
        str(out),
        f"OAPIF:{live_server}/ogc",
        "eco_redline",
    )
    got = pyogrio.read_dataframe(out, layer="eco_redline")
    source = gpd.read_parquet(data_dir / "layers" / "eco_redline.parquet")
    assert len(got) == REDLINE_COUNT
    assert got.crs.to_epsg() == 4326
    assert sorted(got["feature_id"]) == sorted(source["feature_id"])
    got = got.set_index("feature_id").loc[source["feature_id"]]
    np.testing.assert_allclose(
        got.geometry.bounds.to_numpy(), source.geometry.bounds.to_numpy(), atol=1e-9
    )
    assert set(got["name"]) == set(source["name"])


@needs_gdal
def test_ogr2ogr_in_epsg_4490(live_server: str, tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "out4490.gpkg"
    # GDAL >= 3.7 asks the server for crs=EPSG:4490 (Part 2); 3.6 (Debian 12) reads CRS84
    # and reprojects on the client.
    part2 = _oapif_supports_crs_option()
    args = ["-oo", "CRS=EPSG:4490"] if part2 else ["-t_srs", "EPSG:4490"]
    _run(
        "ogr2ogr",
        "-f",
        "GPKG",
        *args,
        str(out),
        f"OAPIF:{live_server}/ogc",
        "eco_redline",
        "rivers",
    )
    for layer, count in (("eco_redline", REDLINE_COUNT), ("rivers", 3)):
        got = pyogrio.read_dataframe(out, layer=layer)
        assert len(got) == count
        assert got.crs.to_epsg() == 4490
        source = gpd.read_parquet(data_dir / "layers" / f"{layer}.parquet")
        np.testing.assert_allclose(got.total_bounds, source.total_bounds, atol=1e-7)


@needs_gdal
def test_gdal_reads_restricted_layer_with_token_header(live_server: str, tmp_path: Path) -> None:
    out = tmp_path / "park.gpkg"
    env = {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {DOWNLOAD_TOKEN}", "PATH": "/usr/bin:/bin"}
    _run("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "national_park", env=env)
    assert len(pyogrio.read_dataframe(out)) == 1
    denied = subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GPKG",
            str(tmp_path / "no.gpkg"),
            f"OAPIF:{live_server}/ogc",
            "national_park",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "403" in denied.stderr


def test_owslib_lists_collections_and_pages(live_server: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogc")
    assert any(c.endswith("conf/core") for c in api.conformance()["conformsTo"])
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == ["eco_redline", "national_park", "rivers"]
    assert api.collection("eco_redline")["storageCrs"].endswith("/4490")
    seen: list[str] = []
    for offset in range(0, REDLINE_COUNT, 10):
        page = api.collection_items("eco_redline", limit=10, offset=offset)
        assert page["numberMatched"] == REDLINE_COUNT
        seen.extend(f["id"] for f in page["features"])
    assert seen == [f"RL{i:03d}" for i in range(1, REDLINE_COUNT + 1)]
    assert api.collection_item("eco_redline", "RL003")["properties"]["name"] == "红线斑块3"
    filtered = api.collection_items("eco_redline", zone_class="core", limit=100)
    assert filtered["numberMatched"] == 5
    assert "zone_class" in api.collection_queryables("eco_redline")["properties"]
