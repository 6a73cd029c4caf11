"""Nearest-only screening (``hits="nearest"``) gives the same per-site results as listing every
zone in reach, and its building blocks are exact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.outlines import densify_coordinates, plane_for_bounds, split_lines
from layers.subdivide import DENSIFY_DEG
from zoning import measure
from zoning.api import rule_classes, screen_sites
from zoning.bulk import screen_many_full
from zoning.index import LayerIndex
from zoning.nearest import ALL, class_pieces, nearest, plane_of
from zoning.rules import load_rulebook
from zoning.screen import screen
from zoning.site import Site

TODAY = date(2026, 11, 21)
TYPES = ["solar_pv", "chemical", "mining", "road", "hydropower", None]


@pytest.fixture(scope="module")
def pack(bundled_data_dir: Path) -> LayerIndex:
    return LayerIndex.load(bundled_data_dir)


def _sites(n: int, seed: int, shapes: str) -> gpd.GeoDataFrame:
    """Sites over both provinces of the bundled pack: points, or points, squares and lines."""
    rng = np.random.default_rng(seed)
    west = rng.random(n) < 0.6
    lon = np.where(west, rng.uniform(96.0, 103.0, n), rng.uniform(104.0, 109.5, n))
    lat = np.where(west, rng.uniform(34.0, 38.8, n), rng.uniform(24.8, 29.0, n))
    geoms = shapely.points(lon, lat)
    if shapes == "mixed":
        square = np.arange(n) % 3 == 1
        line = np.arange(n) % 3 == 2
        geoms[square] = shapely.box(lon[square], lat[square], lon[square] + 0.01, lat[square] + 0.01)
        geoms[line] = shapely.linestrings(
            np.stack([np.column_stack((lon[line], lat[line])),
                      np.column_stack((lon[line] + 0.03, lat[line] + 0.01))], axis=1)
        )
    types = [TYPES[i % len(TYPES)] for i in range(n)]
    return gpd.GeoDataFrame({"project_type": types}, geometry=geoms, crs=4490)


def _assert_same_rows(every: pd.DataFrame, nearest_only: pd.DataFrame) -> None:
    assert list(every.index) == list(nearest_only.index)
    assert list(every.columns) == list(nearest_only.columns)
    for column in every.columns:
        a, b = every[column], nearest_only[column]
        if pd.api.types.is_float_dtype(a):
            # the nearest point is chosen in another projection: centimetres at most
            same = np.isclose(a.fillna(-1), b.fillna(-1), rtol=1e-6, atol=0.01)
        else:
            same = ((a.astype(str) == b.astype(str)) | (a.isna() & b.isna())).to_numpy()
        assert same.all(), (column, a[~same].head(3).tolist(), b[~same].head(3).tolist())


@pytest.mark.parametrize(("shapes", "n"), [("points", 1500), ("mixed", 300)])
def test_nearest_hits_give_the_same_results_as_every_hit(
    pack: LayerIndex, shapes: str, n: int
) -> None:
    rulebook = load_rulebook()
    sites = _sites(n, seed=3, shapes=shapes)
    every, all_hits = screen_sites(sites, pack, rulebook, project_types=sites["project_type"],
                                   today=TODAY, hit_rows="all")
    near, few_hits = screen_sites(sites, pack, rulebook, project_types=sites["project_type"],
                                  today=TODAY, hit_rows="nearest")
    _assert_same_rows(every, near)
    assert len(few_hits) < len(all_hits)
    # every zone a site meets is still listed, with the same overlap
    met = ["site_index", "layer", "feature_id", "relation"]
    inside = all_hits[all_hits["distance_m"] == 0].sort_values(met).reset_index(drop=True)
    inside_near = few_hits[few_hits["distance_m"] == 0].sort_values(met).reset_index(drop=True)
    pd.testing.assert_frame_equal(inside[met], inside_near[met])
    assert set(every["verdict"]) >= {"prohibited", "restricted", "caution"}


def test_points_on_a_river_meet_it_in_nearest_mode_too(pack: LayerIndex) -> None:
    """Points on river lines (vertices, and midpoints of edges) meet them, and points a few
    metres off do not: nearest mode tests only points near a line, and must find the same."""
    river = next(v for v in pack.vectors.values() if v.kind == "river")
    xy = shapely.get_coordinates(river.geoms[:40])
    on_vertex = xy[::7]
    on_edge = (xy[:-1:11] + xy[1::11]) / 2
    off = on_vertex + np.array([0.0, 0.0001])  # ≈ 11 m north
    lon_lat = np.vstack((on_vertex, on_edge, off))
    sites = gpd.GeoSeries(shapely.points(lon_lat), crs=4490)
    met = ["site_index", "feature_id"]

    def meeting(nearest: object) -> pd.DataFrame:
        hits = screen_many_full(sites, pack, (1000,), search_m=10_000, nearest=nearest).hits
        inside = hits[(hits["layer"] == river.id) & (hits["relation"] == "intersects")]
        return inside[met].sort_values(met).reset_index(drop=True)

    every = meeting(None)
    near = meeting(rule_classes(pack, load_rulebook()))
    pd.testing.assert_frame_equal(every, near)
    # (points outside the river layer's coverage are not screened against it at all)
    assert len(set(every["site_index"]) & set(range(len(on_vertex)))) >= 10
    assert not set(every["site_index"]) & set(range(len(lon_lat) - len(off), len(lon_lat)))


def test_nearest_distance_per_layer_equals_the_minimum_over_every_feature(pack: LayerIndex) -> None:
    sites = _sites(4000, seed=8, shapes="points").geometry
    full = screen_many_full(sites, pack, (1000, 5000, 10000), search_m=10_000).hits
    near = screen_many_full(sites, pack, (1000, 5000, 10000), search_m=10_000,
                            nearest=rule_classes(pack, load_rulebook())).hits
    a = full.groupby(["site_index", "layer"])["distance_m"].min()
    b = near.groupby(["site_index", "layer"])["distance_m"].min()
    assert len(a) > 500
    pd.testing.assert_index_equal(a.index, b.index)
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-6, atol=0.01)


def test_nearest_of_a_class_is_at_least_as_near_as_the_one_geos_finds(pack: LayerIndex) -> None:
    """Against GEOS's own nearest search in the plane, re-measured on the ellipsoid: ours is
    never farther (near-ties in the plane are decided on the ellipsoid), and no site GEOS finds
    in reach is missed."""
    layer = next(v for v in pack.vectors.values() if v.kind == "ecological_red_line")
    plane = plane_of(layer)
    group = class_pieces(layer, plane, None, ALL)
    rng = np.random.default_rng(4)
    west, south, east, north = shapely.total_bounds(layer.parts)
    lon = rng.uniform(west, east, 600)
    lat = rng.uniform(south, north, 600)
    sites, _, dist = nearest(group, plane, lon, lat, 10_000.0)
    tr = plane.transformer()
    x, y = tr.transform(lon, lat)
    points = shapely.points(x, y)
    (s_geos, p_geos), _ = group.tree.query_nearest(points, return_distance=True)
    geos = pd.Series(measure.distances_m(points[s_geos], group.pieces[p_geos], tr)).groupby(
        s_geos).min()
    assert len(sites) > 100
    assert (dist <= geos.loc[sites].to_numpy() + 1e-6).all()
    np.testing.assert_allclose(dist, geos.loc[sites].to_numpy(), rtol=1e-4)
    assert set(geos.index[geos.to_numpy() <= 10_000].tolist()) == set(sites.tolist())


def test_densified_coordinates_match_geos_segmentize() -> None:
    rng = np.random.default_rng(1)
    lines = [shapely.LineString(np.cumsum(rng.normal(0, 0.01, (int(k), 2)), axis=0))
             for k in rng.integers(2, 40, 200)]
    xy, line = shapely.get_coordinates(lines, return_index=True)
    dense, of_line = densify_coordinates(xy, line, DENSIFY_DEG)
    expected = shapely.segmentize(np.asarray(lines), DENSIFY_DEG)
    np.testing.assert_allclose(dense, shapely.get_coordinates(expected), atol=1e-12)
    np.testing.assert_array_equal(np.bincount(of_line), shapely.get_num_coordinates(expected))


def test_split_lines_keeps_every_edge_once() -> None:
    rng = np.random.default_rng(2)
    for _ in range(100):
        sizes = rng.integers(1, 15, rng.integers(1, 6))
        line = np.repeat(np.arange(len(sizes)), sizes)
        edges = int(rng.integers(1, 5))
        take, run, owner = split_lines(line, edges)
        pairs = {(a, b) for a, b, r1, r2 in zip(take[:-1], take[1:], run[:-1], run[1:], strict=True)
                 if r1 == r2}
        want = {(i, i + 1) for i in range(len(line) - 1) if line[i] == line[i + 1]}
        assert pairs == want
        assert np.bincount(run).max() <= edges + 1
        assert (line[take] == owner[run]).all()


def test_a_near_tie_in_the_plane_is_decided_on_the_ellipsoid() -> None:
    """Two zones ≈ 3.8 km from a site, one to the south and one to the north-east, whose order
    in the conformal plane is the reverse of their order on the ellipsoid (found in a
    million-point batch: the plane's scale differs by 3e-5 between them)."""
    from types import SimpleNamespace

    plane = plane_for_bounds((88.68, 29.98, 104.53, 41.57))
    site = (92.08785, 31.909829)
    feet = [(92.09413178, 31.87589634), (92.11157243, 31.93759347)]  # south, north-east
    lines = []
    for lon, lat in feet:  # a short segment through each foot, across the line of sight
        dx, dy = (lon - site[0]) * np.cos(np.radians(lat)), lat - site[1]
        ux, uy = -dy / np.hypot(dx, dy), dx / np.hypot(dx, dy)
        step = 0.002
        lines.append(shapely.LineString([
            (lon - ux * step / np.cos(np.radians(lat)), lat - uy * step),
            (lon + ux * step / np.cos(np.radians(lat)), lat + uy * step),
        ]))
    parts = np.asarray(lines, dtype=object)
    layer = SimpleNamespace(parts=parts, part_row=np.arange(2))
    geod = measure.GEOD
    truth = []
    for line in lines:
        xy = shapely.get_coordinates(shapely.segmentize(line, 1e-6))
        _, _, d = geod.inv(np.full(len(xy), site[0]), np.full(len(xy), site[1]), xy[:, 0], xy[:, 1])
        truth.append(d.min())
    assert truth[0] < truth[1] < truth[0] + 0.2  # a near-tie, south nearer on the ellipsoid
    group = class_pieces(layer, plane, None, ALL)  # type: ignore[arg-type]
    x, y = plane.transformer().transform(*site)
    planar = shapely.distance(shapely.Point(x, y), group.pieces)
    assert planar[1] < planar[0]  # ... and north-east nearer in the plane
    _, rows, dist = nearest(group, plane, np.array([site[0]]), np.array([site[1]]), 10_000.0)
    assert rows.tolist() == [0]
    assert dist[0] == pytest.approx(truth[0], abs=0.01)  # chords of 0.005° edges: millimetres


def test_the_outlines_zoning_build_wrote_are_used(
    bundled_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built data folder carries each layer's outlines (``layers/<id>.outlines.parquet``, in
    the plane the catalog names); nearest-only screening reads them instead of making them."""
    import zoning.nearest

    fresh = LayerIndex.load(bundled_data_dir)
    entries = [v.entry for v in fresh.vectors.values()]
    assert all(e.outlines and e.outlines_plane for e in entries)

    def refuse(*args: object) -> None:
        raise AssertionError("outlines were made again instead of read")

    monkeypatch.setattr(zoning.nearest, "make_outlines", refuse)
    sites = _sites(300, seed=9, shapes="points").geometry
    hits = screen_many_full(sites, fresh, (1000,), search_m=10_000,
                            nearest=rule_classes(fresh, load_rulebook())).hits
    assert (hits["relation"] == "within_buffer").any()


def test_a_damaged_outlines_file_is_refused_when_read_not_at_start_up(
    bundled_data_copy: Path,
) -> None:
    from layers.errors import CatalogError

    folder = bundled_data_copy
    index = LayerIndex.load(folder)
    layer = next(v for v in index.vectors.values() if v.kind == "ecological_red_line")
    with open(folder / str(layer.entry.outlines), "ab") as damaged:
        damaged.write(b"x")
    fresh = LayerIndex.load(folder)  # the service starts: it never reads outlines
    sites = _sites(50, seed=2, shapes="points").geometry
    with pytest.raises(CatalogError, match="does not match the catalog checksum"):
        screen_many_full(sites, fresh, (1000,), search_m=10_000,
                         nearest=rule_classes(fresh, load_rulebook()), threads=1)


def test_every_zone_in_reach_of_a_point_agrees_with_single_site_screening(pack: LayerIndex) -> None:
    """The full hits list of point sites comes from the outlines too (``every_in_reach``:
    nearest point in the layer's plane, measured on the ellipsoid); ``screen`` measures each
    site against the pieces with GEOS. The same zones and rivers, distances within 1 cm."""
    sites = _sites(150, seed=12, shapes="points")
    bulk = screen_many_full(sites, pack, (1000, 5000, 10000))
    key = ["layer", "feature_id", "relation"]
    compared = 0
    for label, geom in sites.geometry.items():
        result = screen(Site.from_geometry(geom, "EPSG:4490"), pack, buffers_m=(1000, 5000, 10000))
        single = pd.DataFrame([h.model_dump(include={*key, "distance_m"}) for h in result.hits],
                              columns=[*key, "distance_m"]).sort_values(key, ignore_index=True)
        mine = bulk.hits[bulk.hits["site_index"] == label].sort_values(key, ignore_index=True)
        assert single[key].astype(str).equals(mine[key].astype(str)), label
        np.testing.assert_allclose(mine["distance_m"].to_numpy(float),
                                   single["distance_m"].to_numpy(float), rtol=0, atol=0.01)
        rivers = bulk.rivers[bulk.rivers["site_index"] == label] if len(bulk.rivers) else None
        for r in result.rivers:
            assert rivers is not None
            row = rivers[(rivers["river"] == r.river) & (rivers["level"] == r.level)]
            assert abs(row["distance_m"].iloc[0] - r.distance_m) <= 0.01, (label, r.river)
        assert len(result.rivers) == (0 if rivers is None else len(rivers))
        compared += len(single)
    assert compared > 300
