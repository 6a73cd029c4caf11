"""The committed real and DEM-derived layers under data/raw carry what the rulebook reads.

Why: the extraction scripts run in a separate dev-only venv, so nothing else checks their
committed outputs. These tests read the files as shipped (no build) and fail when a regenerated
pack loses an attribute, a CRS, a known elevation or a published-figure match.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
from pyproj import CRS

RAW = Path(__file__).resolve().parents[2] / "data" / "raw"
EQ = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80"
LEVELS = {"mainstem", "important_tributary", "tributary"}
BASINS = {"yangtze", "yellow", "lancang", "pearl", "inland", "qinghai_lake"}
COUNTS = {"qinghai": ("63", 8, 45), "guizhou": ("52", 9, 88)}


def _read(region: str, rel: str, layer: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(RAW / region / rel, layer=layer)
    assert CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4490)), f"{rel}:{layer} not EPSG:4490"
    assert (gdf["accuracy"] == "approximate").all(), f"{rel}:{layer} accuracy"
    assert gdf["derivation"].str.len().gt(20).all(), f"{rel}:{layer} derivation missing"
    assert gdf.is_valid.all() and not gdf.is_empty.any(), f"{rel}:{layer} geometry"
    return gdf


@pytest.mark.parametrize("region", sorted(COUNTS))
def test_admin_hierarchy(region: str) -> None:
    prefix, n_pref, n_county = COUNTS[region]
    prov = _read(region, "real/admin.gpkg", "province")
    pref = _read(region, "real/admin.gpkg", "prefecture")
    county = _read(region, "real/admin.gpkg", "county")
    assert len(prov) == 1 and len(pref) == n_pref and len(county) == n_county
    for gdf, level in ((prov, "province"), (pref, "prefecture"), (county, "county")):
        assert (gdf["level"] == level).all()
        assert gdf["adcode"].map(lambda c: bool(re.fullmatch(prefix + r"\d{4}", c))).all()
    assert set(county["parent_adcode"]) <= set(pref["adcode"])
    assert (pref["parent_adcode"] == prov["adcode"].iloc[0]).all()
    cov = gpd.read_file(RAW / region / "real" / "coverage.fgb")
    assert len(cov) == 1
    assert abs(cov.to_crs(EQ).area.sum() - prov.to_crs(EQ).area.sum()) < 1.0


@pytest.mark.parametrize(
    ("region", "rel", "expect"),
    [
        (
            "qinghai",
            "real/hydro.gpkg",
            {"黄河": "mainstem", "通天河": "mainstem", "扎曲": "mainstem"},
        ),
        ("guizhou", "real/hydro.gpkg", {"长江": "mainstem", "乌江": "important_tributary"}),
        (
            "qinghai",
            "derived/rivers_derived.gpkg",
            {"湟水": "important_tributary", "大通河": "tributary"},
        ),
        ("guizhou", "derived/rivers_derived.gpkg", {"赤水河": "important_tributary"}),
    ],
)
def test_river_levels(region: str, rel: str, expect: dict[str, str]) -> None:
    rivers = _read(region, rel, "rivers")
    assert set(rivers["level"]) <= LEVELS and set(rivers["basin"]) <= BASINS
    assert rivers["river"].notna().all()
    assert set(rivers.geom_type) <= {"LineString", "MultiLineString"}
    by_name = dict(zip(rivers["name"], rivers["level"], strict=True))
    for name, level in expect.items():
        assert by_name.get(name) == level, (name, by_name.get(name))


@pytest.mark.parametrize("region", sorted(COUNTS))
def test_basins_classified(region: str) -> None:
    basins = _read(region, "real/basins.gpkg", "basins")
    assert set(basins["zone_class"]) <= {"basin", "sub_basin", "internal_drainage"}
    assert set(basins["basin"]) <= BASINS
    assert "长江流域" in set(basins["name"])


def test_qinghai_lake_basin_matches_published_area_and_holds_the_lake() -> None:
    basin = _read("qinghai", "derived/basins_derived.gpkg", "qinghai_lake_basin")
    lakes = _read("qinghai", "real/hydro.gpkg", "lakes")
    area = basin.to_crs(EQ).area.sum() / 1e6
    assert abs(area - 29660) / 29660 < 0.05, area
    lake = lakes.loc[lakes["name"] == "青海湖"].to_crs(EQ).geometry.iloc[0]
    assert basin.to_crs(EQ).geometry.iloc[0].buffer(2000).contains(lake)
    assert 4300 < lake.area / 1e6 < 4600


def test_huangshui_crosses_xining() -> None:
    rivers = _read("qinghai", "derived/rivers_derived.gpkg", "rivers")
    pref = gpd.read_file(RAW / "qinghai" / "real" / "admin.gpkg", layer="prefecture")
    xining = pref.loc[pref["adcode"] == "630100"].geometry.iloc[0]
    assert rivers.loc[rivers["name"] == "湟水"].geometry.iloc[0].intersects(xining)


@pytest.mark.parametrize(
    ("region", "lon", "lat", "metres", "tol"),
    [
        ("qinghai", 100.2, 36.9, 3194, 5),
        ("qinghai", 101.78, 36.62, 2261, 40),
        ("guizhou", 106.71, 26.58, 1071, 40),
    ],
)
def test_dem_is_cog_with_known_elevations(
    region: str, lon: float, lat: float, metres: int, tol: int
) -> None:
    path = RAW / region / "real" / "dem.tif"
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4490
        assert src.dtypes[0] == "int16" and src.nodata == -32768
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        value = next(src.sample([(lon, lat)]))[0]
    assert abs(int(value) - metres) <= tol
    assert path.stat().st_size < 5_000_000


def test_provenance_names_every_real_and_derived_file() -> None:
    text = (RAW / "PROVENANCE.md").read_text(encoding="utf-8")
    names = {p.name for r in COUNTS for d in ("real", "derived") for p in (RAW / r / d).iterdir()}
    missing = sorted(n for n in names if n not in text)
    assert not missing, missing
    total_mb = sum(p.stat().st_size for p in RAW.rglob("*") if p.is_file()) / 1e6
    assert total_mb < 50, total_mb
