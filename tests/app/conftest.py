"""Fixtures: a tiny processed data set (GeoParquet EPSG:4490 + catalog.json) and app clients.

The data imitate ``zoning build`` output: standard columns, Chinese names, one restricted layer,
one line layer with per-feature validity dates and one raster (which OGC must not list).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from app.main import create_app
from app.settings import ZoningSettings
from layers.catalog import Catalog, CatalogEntry, sha256_file, write_catalog
from tests.live import free_port as _free_port
from tests.live import wait_healthy

REDLINE_COUNT = 25
ADMIN_TOKEN = "admin-secret-token"
DOWNLOAD_TOKEN = "download-secret-token"


def _redline() -> gpd.GeoDataFrame:
    # A 5 x 5 grid of 0.02° squares near Xining (101.7E, 36.6N).
    xs, ys = np.meshgrid(np.arange(5), np.arange(5))
    x0 = 101.70 + xs.ravel() * 0.03
    y0 = 36.60 + ys.ravel() * 0.03
    geoms = shapely.box(x0, y0, x0 + 0.02, y0 + 0.02)
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "feature_id": [f"RL{i:03d}" for i in range(1, n + 1)],
            "name": [f"红线斑块{i}" for i in range(1, n + 1)],
            "zone_class": ["core" if i % 5 == 0 else "general" for i in range(n)],
            "code": [f"ZH6301{i:04d}" for i in range(n)],
            "accuracy": "illustrative",
            "derivation": "synthetic test grid",
            "area_km2": np.round(np.full(n, 4.0), 3),
        },
        geometry=geoms,
        crs="EPSG:4490",
    )


def _park() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "feature_id": ["NP1"],
            "name": ["三江源国家公园"],
            "zone_class": ["core_protection"],
            "code": [None],
            "accuracy": "approximate",
            "derivation": None,
            "area_km2": [120.0],
            "park": ["sanjiangyuan"],
        },
        geometry=[shapely.box(101.6, 36.5, 101.9, 36.8)],
        crs="EPSG:4490",
    )


def _rivers() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "feature_id": ["R1", "R2", "R3"],
            "name": ["湟水", "湟水支流", "旧河道"],
            "zone_class": ["mainstem", "tributary", "mainstem"],
            "code": [None, None, None],
            "accuracy": "illustrative",
            "derivation": None,
            "length_km": [30.0, 10.0, 5.0],
            "valid_from": ["2000-01-01", "2010-01-01", "1990-01-01"],
            "valid_to": [None, None, "2005-12-31"],
        },
        geometry=[
            shapely.LineString([(101.5, 36.55), (101.9, 36.62)]),
            shapely.LineString([(101.75, 36.5), (101.76, 36.7)]),
            shapely.LineString([(101.6, 36.6), (101.62, 36.65)]),
        ],
        crs="EPSG:4490",
    )


def _entry(data_dir: Path, layer_id: str, gdf: gpd.GeoDataFrame, **kw: object) -> CatalogEntry:
    rel = f"layers/{layer_id}.parquet"
    gdf.to_parquet(data_dir / rel)
    base: dict[str, object] = {
        "id": layer_id,
        "region": "qinghai",
        "feature_count": len(gdf),
        "bbox": tuple(float(v) for v in gdf.total_bounds),
        "accuracy": "illustrative",
        "source": "test fixture",
        "as_of": date(2023, 10, 1),
        "version": sha256_file(data_dir / rel),
        "path": rel,
        "fields": [c for c in gdf.columns if c != "geometry"],
    }
    base.update(kw)
    return CatalogEntry.model_validate(base)


def make_data(data_dir: Path) -> Path:
    """Write the fixture data set into ``data_dir`` and return it."""
    (data_dir / "layers").mkdir(parents=True, exist_ok=True)
    entries = [
        _entry(
            data_dir,
            "eco_redline",
            _redline(),
            kind="ecological_red_line",
            title="生态保护红线",
            geometry_type="polygon",
            total_area_km2=100.0,
        ),
        _entry(
            data_dir,
            "national_park",
            _park(),
            kind="national_park",
            title="国家公园",
            geometry_type="polygon",
            access="restricted",
            accuracy="approximate",
        ),
        _entry(
            data_dir,
            "rivers",
            _rivers(),
            kind="river",
            title="河流",
            geometry_type="line",
            total_length_km=45.0,
        ),
    ]
    dem = data_dir / "layers" / "dem.tif"
    with rasterio.open(
        dem,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="int16",
        crs="EPSG:4490",
        transform=from_origin(101.5, 36.9, 0.05, 0.05),
    ) as ds:
        ds.write(np.arange(100, dtype="int16").reshape(1, 10, 10) + 2200)
    entries.append(
        CatalogEntry(
            id="dem",
            kind="raster",
            title="高程",
            region="qinghai",
            geometry_type="raster",
            feature_count=0,
            bbox=(101.5, 36.4, 102.0, 36.9),
            accuracy="approximate",
            source="test fixture",
            version=sha256_file(dem),
            path="layers/dem.tif",
            unit="m",
        )
    )
    write_catalog(data_dir, Catalog(layers=entries))
    return data_dir


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("processed"))


def settings_for(data_dir: Path, **kw: object) -> ZoningSettings:
    base: dict[str, object] = {
        "data_dir": data_dir,
        "state_dir": data_dir.parent / f"{data_dir.name}-state",
        "admin_token": ADMIN_TOKEN,
        "download_token": DOWNLOAD_TOKEN,
        "max_body_bytes": 200_000,
    }
    base.update(kw)
    return ZoningSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(data_dir)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def private_data_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A writable copy of the data set, for tests that damage or change it."""
    target = tmp_path / "processed"
    shutil.copytree(data_dir, target)
    return target




def start_server(data_dir: Path, log_path: Path, **env_extra: str) -> tuple[subprocess.Popen, str]:
    """Start uvicorn on a free loopback port and wait until /healthz answers.

    The deadline is generous because CI machines are shared; the server's own log is attached
    to the failure so a crash at start-up is visible.
    """
    port = _free_port()
    env = dict(os.environ)
    env.update(
        ZONING_DATA_DIR=str(data_dir),
        ZONING_STATE_DIR=str(data_dir.parent / f"{data_dir.name}-live-state"),
        ZONING_DOWNLOAD_TOKEN=DOWNLOAD_TOKEN,
        ZONING_ADMIN_TOKEN=ADMIN_TOKEN,
        **env_extra,
    )
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the caller via stop_server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, timeout_s=240, log_path=log_path)
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def live_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn process on a random loopback port, for GDAL, OWSLib and Chromium."""
    proc, url = start_server(data_dir, tmp_path_factory.mktemp("live") / "server.log")
    try:
        yield url
    finally:
        stop_server(proc)
