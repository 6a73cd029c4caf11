"""The committed ILLUSTRATIVE layers (data/raw/<region>/illustrative) keep their promises.

Why: these polygons stand in for official data, so the properties screening relies on must hold
in the committed files themselves: every feature is labelled illustrative with a derivation, the
三线一单 units tile each province without gaps or overlaps and carry well-formed ZH codes, and the
red line never overlaps urban space (三条控制线 do not overlap). The rule files must reject typos.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import yaml

from layers.extract.illustrative_rules import load_rules

RAW = Path(__file__).resolve().parents[2] / "data" / "raw"
MARKER = "# --- illustrative layers (see layers/extract/illustrative_*.py) ---"
EQ = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m"
REGIONS = ["qinghai", "guizhou"]
PREFIX = {"qinghai": "qh", "guizhou": "gz"}


def _entries(region: str) -> list[dict]:
    text = (RAW / region / "manifest.yaml").read_text(encoding="utf-8")
    assert MARKER in text
    return yaml.safe_load(text.split(MARKER, 1)[1]) or []


def _layer(region: str, short: str) -> gpd.GeoDataFrame:
    lid = f"{PREFIX[region]}_{short}"
    return gpd.read_file(RAW / region / "illustrative" / f"{short}.gpkg", layer=lid)


@pytest.mark.parametrize("region", REGIONS)
def test_rules_validate_and_match_manifest(region: str) -> None:
    rules = load_rules(region)
    listed = [e["id"] for e in _entries(region)]
    assert listed == [layer.id for layer in rules.layers]


def test_rule_typo_is_rejected(tmp_path: Path) -> None:
    src = (Path(load_rules.__code__.co_filename).parent / "rules" / "illustrative_guizhou.yaml")
    bad = tmp_path / "illustrative_guizhou.yaml"
    bad.write_text(src.read_text(encoding="utf-8").replace("max_rise_m: 150", "max_rise: 150", 1),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="max_rise"):
        load_rules("guizhou", bad)


@pytest.mark.parametrize("region", REGIONS)
def test_every_feature_is_labelled_illustrative(region: str) -> None:
    for entry in _entries(region):
        assert entry["accuracy"] == "illustrative"
        assert "not an official boundary" in entry["source"]
        gdf = gpd.read_file(RAW / region / entry["path"], layer=entry["layer"])
        assert gdf.crs.to_epsg() == 4490, entry["id"]
        assert len(gdf) > 0, entry["id"]
        assert (gdf["accuracy"] == "illustrative").all(), entry["id"]
        assert gdf["derivation"].str.len().min() > 20, entry["id"]
        assert gdf.geometry.is_valid.all() and not gdf.geometry.is_empty.any(), entry["id"]
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}, entry["id"]


@pytest.mark.parametrize("region", REGIONS)
def test_control_units_tile_the_province(region: str) -> None:
    """Per county, the units' areas add up to the county's: no gaps, no double counting."""
    units = _layer(region, "control_units")
    counties = gpd.read_file(RAW / region / "real" / "admin.gpkg", layer="county")
    units["km2"] = units.to_crs(EQ).area / 1e6
    counties["km2"] = counties.to_crs(EQ).area / 1e6
    per_county = units.groupby("county_adcode")["km2"].sum()
    expected = counties.set_index("adcode")["km2"]
    assert set(per_county.index) == set(expected.index)
    rel = ((per_county - expected.loc[per_county.index]).abs() / expected.loc[per_county.index])
    assert rel.max() < 1e-4, rel.sort_values().tail(3)
    digit = {"优先保护单元": "1", "重点管控单元": "2", "一般管控单元": "3"}
    for code, cls, adcode in zip(units["code"], units["zone_class"], units["county_adcode"], strict=True):
        assert re.fullmatch(r"ZH\d{6}[123]\d{4}", code), code
        assert code[2:8] == adcode and code[8] == digit[cls], (code, cls)
    assert units["code"].is_unique


@pytest.mark.parametrize("region", REGIONS)
def test_red_line_does_not_overlap_urban_space(region: str) -> None:
    red = _layer(region, "eco_redline")
    urban = _layer(region, "urban_space")
    i_urban, i_red = red.sindex.query(urban.geometry, predicate="intersects")
    overlap = shapely.intersection(urban.geometry.values[i_urban], red.geometry.values[i_red])
    km2 = gpd.GeoSeries(overlap, crs="EPSG:4490").to_crs(EQ).area.sum() / 1e6
    assert km2 < 0.05, km2


@pytest.mark.parametrize("region", REGIONS)
def test_protected_area_attributes(region: str) -> None:
    parks = _layer(region, "national_parks")
    assert set(parks["zone_class"]) == {"核心保护区", "一般控制区"}
    assert parks["park"].notna().all()
    assert set(parks["park_status"]) <= {"established", "candidate", "planned"}
    reserves = _layer(region, "nature_reserves")
    assert set(reserves["reserve_level"]) <= {"national", "provincial"}
    assert set(reserves["zone_class"]) <= {"核心区", "缓冲区", "实验区"}
