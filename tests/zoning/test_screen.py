"""Screening against the tiny test pack: overlaps, bands, rivers, containment, coverage, rasters."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.zoning.conftest import (
    COUNTY_W,
    DEM_GRADIENT,
    GEOD,
    PARK_COVERAGE,
    REDLINE_A,
    REDLINE_B,
    RIVER_MAIN_1,
    RIVER_MAIN_2,
    RIVER_TRIB,
    WELL,
)
from tests.zoning.test_measure import brute_distance, geod_area
from zoning.crs import from_storage_xy, parse_crs
from zoning.errors import CoordinateMistakeError, DataUnavailableError, ZoningError
from zoning.index import LayerIndex
from zoning.result import Hit, SpatialResult
from zoning.screen import screen
from zoning.site import Site


def polygon_site(poly: shapely.Polygon, crs: str = "EPSG:4326") -> Site:
    return Site.from_geojson(shapely.geometry.mapping(poly), crs=crs)


def hits_of(result: SpatialResult, layer: str, relation: str | None = None) -> dict[str, Hit]:
    return {
        h.feature_id: h
        for h in result.hits
        if h.layer == layer and (relation is None or h.relation == relation)
    }


SITE = shapely.box(101.72, 36.58, 101.73, 36.61)


def test_overlap_area_and_ratio_match_geod(index: LayerIndex) -> None:
    site = polygon_site(SITE)
    result = screen(site, index)
    hit = hits_of(result, "eco_redline", "intersects")["A"]
    truth = geod_area(SITE.intersection(REDLINE_A))
    assert hit.overlap_area_m2 == pytest.approx(truth, rel=1e-4)
    assert hit.overlap_ratio == pytest.approx(truth / geod_area(SITE), rel=1e-4)
    assert hit.distance_m == 0.0 and hit.band_m is None
    assert hit.accuracy == "approximate"
    assert hit.attributes["code"] == "RL-A" and "geometry" not in hit.attributes
    json.dumps(result.model_dump(mode="json"))  # JSON-safe throughout


def test_within_buffer_distance_and_band(index: LayerIndex) -> None:
    result = screen(polygon_site(SITE), index)
    b = hits_of(result, "eco_redline", "within_buffer")["B"]
    assert b.distance_m == pytest.approx(brute_distance(SITE, REDLINE_B), rel=1e-3)
    assert b.band_m == 10_000.0
    well = hits_of(result, "wells")["W1"]
    assert well.distance_m == pytest.approx(brute_distance(SITE, WELL), rel=1e-3)
    assert well.band_m == 1000.0
    assert "C" not in hits_of(result, "eco_redline")  # ≈ 25 km away


def test_buffers_and_search_reach(index: LayerIndex) -> None:
    site = polygon_site(SITE)
    narrow = screen(site, index, buffers_m=(500,))
    assert "W1" not in hits_of(narrow, "wells")
    wide = screen(site, index, buffers_m=(500,), search_m=30_000)
    far = hits_of(wide, "eco_redline")["C"]
    assert far.relation == "within_buffer" and far.band_m is None
    assert far.distance_m == pytest.approx(brute_distance(SITE, shapely.box(101.95, 36.75, 101.98, 36.78)), rel=1e-3)
    for bad in ([0], [-1], [float("nan")], ["1000"], [10_000_000]):
        with pytest.raises(ZoningError) as err:
            screen(site, index, buffers_m=bad)
        assert err.value.field == "buffers_m[0]"


def test_site_equal_to_zone_has_ratio_one(index: LayerIndex) -> None:
    for poly, fid in ((REDLINE_A, "A"), (REDLINE_B, "B")):
        hit = hits_of(screen(polygon_site(poly), index), "eco_redline", "intersects")[fid]
        assert hit.overlap_ratio == pytest.approx(1.0, abs=1e-9)
        assert hit.overlap_area_m2 == pytest.approx(geod_area(poly), rel=1e-4)


def test_site_in_hole_is_not_inside(index: LayerIndex) -> None:
    hole = shapely.box(101.825, 36.625, 101.835, 36.635)
    result = screen(polygon_site(hole), index)
    b = hits_of(result, "eco_redline")["B"]
    assert b.relation == "within_buffer"
    assert b.distance_m == pytest.approx(brute_distance(hole, shapely.box(101.82, 36.62, 101.84, 36.64)), rel=1e-3)


def test_point_and_line_sites(index: LayerIndex) -> None:
    point = screen(Site.from_lonlat(101.71, 36.62), index)
    a = hits_of(point, "eco_redline", "intersects")["A"]
    assert a.overlap_area_m2 is None and a.distance_m == 0.0
    # a line crossing red line A from south to north: length inside ≈ 0.05° of latitude
    line = Site.from_geojson({"type": "LineString", "coordinates": [[101.71, 36.58], [101.71, 36.67]]})
    hit = hits_of(screen(line, index), "eco_redline", "intersects")["A"]
    truth = GEOD.inv(101.71, 36.60, 101.71, 36.65)[2]
    assert hit.length_inside_m == pytest.approx(truth, rel=1e-4)
    assert hit.overlap_ratio == pytest.approx(truth / line.length_m, rel=1e-4)


def test_polygon_site_over_river_reports_length_inside(index: LayerIndex) -> None:
    site = shapely.box(101.6, 36.54, 101.65, 36.56)
    hit = hits_of(screen(polygon_site(site), index), "rivers", "intersects")["1"]
    truth = GEOD.inv(101.6, 36.55, 101.65, 36.55)[2]
    assert hit.length_inside_m == pytest.approx(truth, rel=1e-4)
    assert hit.overlap_area_m2 is None


def test_river_distances_by_river_and_level(index: LayerIndex) -> None:
    result = screen(polygon_site(SITE), index)
    rivers = {(r.river, r.level): r for r in result.rivers}
    assert set(rivers) == {("湟水", "mainstem"), ("北川河", "important_tributary")}
    main = rivers[("湟水", "mainstem")]
    truth = min(brute_distance(SITE, RIVER_MAIN_1), brute_distance(SITE, RIVER_MAIN_2))
    assert main.distance_m == pytest.approx(truth, rel=1e-3)
    assert main.basin == "yellow"
    assert rivers[("北川河", "important_tributary")].distance_m == pytest.approx(
        brute_distance(SITE, RIVER_TRIB), rel=1e-3
    )


def test_admin_containment_with_shares(index: LayerIndex) -> None:
    result = screen(polygon_site(SITE), index)
    admin = hits_of(result, "admin")
    assert {h.relation for h in admin.values()} == {"contains_site"}
    assert sum(h.share or 0 for h in admin.values()) == pytest.approx(1.0, abs=1e-9)
    assert admin["630102"].share == pytest.approx(
        geod_area(SITE.intersection(COUNTY_W)) / geod_area(SITE), rel=1e-4
    )
    inside = screen(Site.from_lonlat(101.6, 36.6), index)
    assert [h.feature_id for h in inside.hits if h.layer == "admin"] == ["630102"]
    assert hits_of(inside, "admin")["630102"].share == 1.0


def test_coverage_no_data_is_not_clear(index: LayerIndex) -> None:
    outside = screen(Site.from_lonlat(101.95, 36.6), index)
    cov = {c.layer: c for c in outside.coverage}
    assert cov["national_park"].status == "no_data" and cov["national_park"].covered_share == 0
    assert cov["eco_redline"].status == "covered"
    assert not hits_of(outside, "national_park")
    straddle = shapely.box(101.88, 36.5, 101.92, 36.52)
    result = screen(polygon_site(straddle), index)
    park = {c.layer: c for c in result.coverage}["national_park"]
    assert park.status == "no_data"
    assert park.covered_share == pytest.approx(
        geod_area(straddle.intersection(PARK_COVERAGE)) / geod_area(straddle), rel=1e-3
    )
    assert result.versions["national_park"].startswith("sha256:")


def test_dem_zonal_stats_and_slope(index: LayerIndex) -> None:
    result = screen(polygon_site(SITE), index)
    (dem,) = result.rasters
    assert dem.unit == "m" and dem.cells > 100
    assert dem.slope_deg_mean == pytest.approx(math.degrees(math.atan(DEM_GRADIENT)), abs=0.02)
    east = GEOD.inv(101.5, 36.595, 101.725, 36.595)[2]
    assert dem.mean == pytest.approx(2000 + DEM_GRADIENT * east, abs=5)
    assert dem.min < dem.mean < dem.max
    point = screen(Site.from_lonlat(101.7005, 36.6005), index).rasters[0]
    assert point.cells == 1
    far = screen(Site.from_lonlat(103.0, 36.6), index)
    assert {c.layer: c.status for c in far.coverage}["dem"] == "no_data"
    assert far.rasters == []


def test_swapped_lonlat_against_loaded_regions(index: LayerIndex) -> None:
    # a region around 77°E 37°N: the point (37.0, 77.0) is a valid lon/lat but lies in no
    # region, while swapped it does
    moved = dataclasses.replace(index, extent=shapely.box(75, 35, 80, 40))
    with pytest.raises(CoordinateMistakeError) as err:
        screen(Site.from_lonlat(37.0, 77.0), moved)
    assert "[77.00000, 37.00000]" in (err.value.hint or "")
    screen(Site.from_lonlat(77.0, 37.0), moved)  # correct order passes


def test_results_invariant_under_input_crs(index: LayerIndex) -> None:
    base = screen(polygon_site(SITE), index)
    ring = np.asarray(SITE.exterior.coords)
    for crs in ("EPSG:4543", "EPSG:4522", "GCJ02", "BD09", "EPSG:4490"):
        x, y = from_storage_xy(ring[:, 0], ring[:, 1], parse_crs(crs))
        geom = {"type": "Polygon", "coordinates": [np.column_stack((x, y)).tolist()]}
        other = screen(Site.from_geojson(geom, crs=crs), index)
        assert [(h.layer, h.feature_id, h.relation) for h in other.hits] == [
            (h.layer, h.feature_id, h.relation) for h in base.hits
        ]
        for h0, h1 in zip(base.hits, other.hits, strict=True):
            assert h1.distance_m == pytest.approx(h0.distance_m, rel=1e-5, abs=1e-3)
            if h0.overlap_area_m2 is not None:
                assert h1.overlap_area_m2 == pytest.approx(h0.overlap_area_m2, rel=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lon=st.floats(101.55, 101.9),
    lat=st.floats(36.45, 36.7),
    w=st.floats(0.0005, 0.08),
    h=st.floats(0.0005, 0.08),
)
def test_overlap_properties(index: LayerIndex, lon: float, lat: float, w: float, h: float) -> None:
    site = polygon_site(shapely.box(lon, lat, lon + w, lat + h))
    result = screen(site, index)
    for hit in result.hits:
        if hit.overlap_area_m2 is not None:
            assert hit.overlap_area_m2 <= site.area_m2 * (1 + 1e-9)
        if hit.overlap_ratio is not None:
            assert 0.0 <= hit.overlap_ratio <= 1.0
        assert hit.distance_m >= 0
        if hit.relation == "within_buffer":
            assert hit.distance_m > 0
    shares = [h.share for h in result.hits if h.layer == "admin"]  # counties tile the site
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)


def test_corrupt_pack_is_refused(pack_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "pack"
    shutil.copytree(pack_dir, copy)
    with open(copy / "layers" / "eco_redline.parquet", "ab") as fh:
        fh.write(b"garbage")
    with pytest.raises(DataUnavailableError, match="checksum"):
        LayerIndex.load(copy)
    with pytest.raises(DataUnavailableError, match="zoning build"):
        LayerIndex.load(tmp_path / "nowhere")


def test_index_contents(index: LayerIndex) -> None:
    assert set(index.vectors) == {"eco_redline", "national_park", "rivers", "admin", "wells"}
    assert set(index.rasters) == {"dem"}
    assert index.version.startswith("sha256:")
    assert index.vectors["eco_redline"].attributes(np.array([2]))[0]["area_km2"] is None
