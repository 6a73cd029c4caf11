"""Tiny processed data packs built in code (GeoParquet + GeoTIFF + catalog.json via layers.catalog).

The pack sits around Xining (101.7°E, 36.6°N) so that distances and areas are realistic, and
every geometry is simple enough that the expected answers can be computed independently with
``pyproj.Geod``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.catalog import Catalog, CatalogEntry, sha256_file, write_catalog
from zoning.index import LayerIndex

GEOD = pyproj.Geod(ellps="GRS80")

# A few reusable shapes (lon/lat, EPSG:4490)
REDLINE_A = shapely.box(101.70, 36.60, 101.75, 36.65)
REDLINE_B = shapely.Polygon(
    [(101.80, 36.60), (101.86, 36.60), (101.86, 36.66), (101.80, 36.66)],
    [[(101.82, 36.62), (101.84, 36.62), (101.84, 36.64), (101.82, 36.64)]],
)
REDLINE_FAR = shapely.box(101.95, 36.75, 101.98, 36.78)
PARK_COVERAGE = shapely.box(101.5, 36.4, 101.9, 36.8)
PARK = shapely.box(101.60, 36.45, 101.65, 36.50)
RIVER_MAIN_1 = shapely.LineString([(101.5, 36.55), (101.72, 36.55)])
RIVER_MAIN_2 = shapely.LineString([(101.72, 36.55), (102.0, 36.56)])
RIVER_TRIB = shapely.LineString([(101.78, 36.56), (101.78, 36.70)])
COUNTY_W = shapely.box(101.5, 36.4, 101.725, 36.8)
COUNTY_E = shapely.box(101.725, 36.4, 102.0, 36.8)
WELL = shapely.Point(101.71, 36.58)
DEM_BOUNDS = (101.5, 36.4, 102.0, 36.8)
DEM_RES = 0.001
DEM_GRADIENT = 0.1  # metres of rise per metre eastwards → slope atan(0.1) = 5.71°


def _frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4490")


def write_vector(
    data_dir: Path,
    layer_id: str,
    kind: str,
    gdf: gpd.GeoDataFrame,
    *,
    geometry_type: str = "polygon",
    coverage: shapely.Geometry | None = None,
    accuracy: str = "illustrative",
) -> CatalogEntry:
    """Write one layer file (and coverage) the way the build does; return its catalog entry."""
    (data_dir / "layers").mkdir(parents=True, exist_ok=True)
    path = data_dir / "layers" / f"{layer_id}.parquet"
    gdf.to_parquet(path)
    cov_rel, cov_version = None, None
    if coverage is not None:
        (data_dir / "coverage").mkdir(exist_ok=True)
        cov_path = data_dir / "coverage" / f"{layer_id}.parquet"
        gpd.GeoDataFrame(geometry=[coverage], crs="EPSG:4490").to_parquet(cov_path)
        cov_rel, cov_version = f"coverage/{layer_id}.parquet", sha256_file(cov_path)
    return CatalogEntry(
        id=layer_id,
        kind=kind,
        title=layer_id,
        region="qinghai",
        geometry_type=geometry_type,  # type: ignore[arg-type]
        feature_count=len(gdf),
        bbox=tuple(gdf.total_bounds),  # type: ignore[arg-type]
        accuracy=accuracy,  # type: ignore[arg-type]
        source="test fixture",
        version=sha256_file(path),
        path=f"layers/{layer_id}.parquet",
        coverage=cov_rel,
        coverage_version=cov_version,
        fields=[c for c in gdf.columns if c != "geometry"],
    )


def dem_array() -> tuple[np.ndarray, Any]:
    """A DEM rising ``DEM_GRADIENT`` m per metre eastwards, exact in metres at every row."""
    minx, miny, maxx, maxy = DEM_BOUNDS
    cols = round((maxx - minx) / DEM_RES)
    rows = round((maxy - miny) / DEM_RES)
    lat = maxy - (np.arange(rows) + 0.5) * DEM_RES
    lon = minx + (np.arange(cols) + 0.5) * DEM_RES
    _, _, east_m = GEOD.inv(
        np.full((rows, cols), minx), np.repeat(lat[:, None], cols, 1),
        np.repeat(lon[None, :], rows, 0), np.repeat(lat[:, None], cols, 1),
    )
    elevation = (2000.0 + DEM_GRADIENT * east_m).astype("float32")
    return elevation, from_origin(minx, maxy, DEM_RES, DEM_RES)


def write_dem(data_dir: Path, layer_id: str = "dem") -> CatalogEntry:
    (data_dir / "layers").mkdir(parents=True, exist_ok=True)
    path = data_dir / "layers" / f"{layer_id}.tif"
    elevation, transform = dem_array()
    with rasterio.open(
        path, "w", driver="GTiff", width=elevation.shape[1], height=elevation.shape[0], count=1,
        dtype="float32", crs="EPSG:4490", transform=transform, nodata=-9999.0, tiled=True,
    ) as dst:
        dst.write(elevation, 1)
    return CatalogEntry(
        id=layer_id, kind="raster", title="DEM", region="qinghai", geometry_type="raster",
        feature_count=0, bbox=DEM_BOUNDS, accuracy="illustrative", source="test fixture",
        version=sha256_file(path), path=f"layers/{layer_id}.tif", unit="m",
    )


def build_pack(data_dir: Path) -> Path:
    """The standard test pack: red lines, a park with a coverage, rivers, counties, a well, a DEM."""
    entries = [
        write_vector(data_dir, "eco_redline", "ecological_red_line", _frame([
            {"feature_id": "A", "name": "红线A", "zone_class": None, "code": "RL-A",
             "area_km2": 1.0, "geometry": REDLINE_A},
            {"feature_id": "B", "name": "红线B", "zone_class": None, "code": "RL-B",
             "area_km2": 2.0, "geometry": REDLINE_B},
            {"feature_id": "C", "name": "红线C", "zone_class": None, "code": None,
             "area_km2": float("nan"), "geometry": REDLINE_FAR},
        ]), accuracy="approximate"),
        write_vector(data_dir, "national_park", "national_park", _frame([
            {"feature_id": "P1", "name": "公园", "zone_class": "core_protection",
             "park": "qilianshan", "geometry": PARK},
        ]), coverage=PARK_COVERAGE),
        write_vector(data_dir, "rivers", "river", _frame([
            {"feature_id": "1", "name": "湟水", "zone_class": "mainstem", "river": "湟水",
             "basin": "yellow", "geometry": RIVER_MAIN_1},
            {"feature_id": "2", "name": "湟水", "zone_class": "mainstem", "river": "湟水",
             "basin": "yellow", "geometry": RIVER_MAIN_2},
            {"feature_id": "3", "name": "北川河", "zone_class": "important_tributary",
             "river": "北川河", "basin": "yellow", "geometry": RIVER_TRIB},
        ]), geometry_type="line"),
        write_vector(data_dir, "admin", "admin", _frame([
            {"feature_id": "630102", "name": "西区", "zone_class": "county", "code": "630102",
             "geometry": COUNTY_W},
            {"feature_id": "630103", "name": "东区", "zone_class": "county", "code": "630103",
             "geometry": COUNTY_E},
        ])),
        write_vector(data_dir, "wells", "drinking_water_source", _frame([
            {"feature_id": "W1", "name": "水井", "zone_class": None, "geometry": WELL},
        ]), geometry_type="point"),
        write_dem(data_dir),
    ]
    write_catalog(data_dir, Catalog(layers=entries))
    return data_dir


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pack(tmp_path_factory.mktemp("pack"))


@pytest.fixture(scope="session")
def index(pack_dir: Path) -> LayerIndex:
    return LayerIndex.load(pack_dir)


def geod_area(geom: shapely.Geometry) -> float:
    """Independent ellipsoidal area (pyproj.Geod) for ground-truth checks."""
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])
