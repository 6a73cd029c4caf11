"""The compiled grid walk (``zoning.run_grid``) finds what GEOS finds, pair for pair.

Each test states the answer independently: GEOS ``distance`` / ``shortest_line`` of every
(site, run) pair, then the same window rule the grid applies (runs within ``cap`` and within
``spread`` of the nearest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from layers.outlines import Outlines
from zoning.run_grid import RunGrid

SPREAD = 0.003


def _runs(seed: int, n_lines: int, n_points: int) -> np.ndarray:
    """Random wiggly runs of 2–33 vertices over a 100 km square, plus some point runs."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_lines):
        n = int(rng.integers(2, 34))
        start = rng.uniform(0, 100_000, 2)
        steps = rng.normal(0, 400, (n - 1, 2))
        runs.append(shapely.linestrings(np.vstack((start, start + np.cumsum(steps, axis=0)))))
    runs += list(shapely.points(rng.uniform(0, 100_000, (n_points, 2))))
    return np.asarray(runs, dtype=object)


def _grid(runs: np.ndarray) -> RunGrid:
    outlines = Outlines.from_geometries(runs, np.arange(len(runs)))
    return RunGrid.build(outlines.x, outlines.y, outlines.first)


def _expected(runs: np.ndarray, px: np.ndarray, py: np.ndarray, cap: float) -> set:
    """(site, run, x1, y1) of every run in the window, by GEOS over every pair."""
    sites = shapely.points(px, py)
    s, r = np.meshgrid(np.arange(len(sites)), np.arange(len(runs)), indexing="ij")
    s, r = s.ravel(), r.ravel()
    pair = shapely.get_coordinates(shapely.shortest_line(sites[s], runs[r])).reshape(-1, 4)
    d = np.hypot(pair[:, 2] - pair[:, 0], pair[:, 3] - pair[:, 1])
    nearest = np.full(len(sites), np.inf)
    np.minimum.at(nearest, s, d)
    window = np.minimum(nearest[s] * (1 + SPREAD) + 1e-6, cap + 1e-6)
    keep = (d <= window) & (nearest[s] <= cap + 1e-6)
    return {(int(a), int(b), float(x), float(y))
            for a, b, x, y in zip(s[keep], r[keep], pair[keep, 2], pair[keep, 3], strict=True)}


def _found(grid: RunGrid, px: np.ndarray, py: np.ndarray, cap: float) -> set:
    s, r, pairs = grid.near_ties(px, py, cap, SPREAD)
    assert np.array_equal(pairs[:, 0], px[s]) and np.array_equal(pairs[:, 1], py[s])
    assert np.all(np.diff(s) >= 0)  # sites in order
    return {(int(a), int(b), float(x), float(y))
            for a, b, x, y in zip(s, r, pairs[:, 2], pairs[:, 3], strict=True)}


@pytest.mark.parametrize("cap", [300.0, 3_000.0, 30_000.0, 1e9])
def test_the_grid_finds_the_runs_and_points_geos_finds(cap: float) -> None:
    runs = _runs(seed=4, n_lines=300, n_points=40)
    grid = _grid(runs)
    rng = np.random.default_rng(5)
    # inside the runs' extent, and well outside it (cells off the grid)
    px = np.r_[rng.uniform(-5_000, 105_000, 300), -40_000.0, 160_000.0]
    py = np.r_[rng.uniform(-5_000, 105_000, 300), 50_000.0, 180_000.0]
    assert _found(grid, px, py, cap) == _expected(runs, px, py, cap)


def test_sites_on_a_run_or_a_vertex_are_at_distance_zero() -> None:
    runs = _runs(seed=7, n_lines=50, n_points=5)
    grid = _grid(runs)
    xy = shapely.get_coordinates(runs)
    on_vertex = xy[::17]
    mid = shapely.line_interpolate_point(runs[:10], 0.5, normalized=True)
    on_line = shapely.get_coordinates(mid)
    px = np.r_[on_vertex[:, 0], on_line[:, 0]]
    py = np.r_[on_vertex[:, 1], on_line[:, 1]]
    got = _found(grid, px, py, 5_000.0)
    assert got == _expected(runs, px, py, 5_000.0)
    nearest = {s: np.hypot(x - px[s], y - py[s]) for s, _, x, y in got}
    assert max(nearest.values()) < 1e-6


def test_runs_at_equal_distance_are_all_returned() -> None:
    # a site midway between two parallel lines, and a site on the vertex two runs share
    runs = np.asarray([
        shapely.linestrings([(0.0, 0.0), (1_000.0, 0.0)]),
        shapely.linestrings([(0.0, 200.0), (1_000.0, 200.0)]),
        shapely.linestrings([(1_000.0, 0.0), (1_000.0, -500.0)]),
    ], dtype=object)
    grid = _grid(runs)
    s, r, _ = grid.near_ties(np.array([500.0, 1_100.0]), np.array([100.0, 0.0]), 1e4, SPREAD)
    assert list(zip(s.tolist(), r.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 2)]


def test_nothing_in_reach_nothing_found_and_empty_inputs() -> None:
    runs = _runs(seed=9, n_lines=20, n_points=0)
    grid = _grid(runs)
    s, r, pairs = grid.near_ties(np.array([1e7, np.nan]), np.array([1e7, 0.0]), 1_000.0, SPREAD)
    assert len(s) == len(r) == len(pairs) == 0
    empty = RunGrid.build(np.zeros(0), np.zeros(0), np.zeros(1, dtype=np.int64))
    s, _, _ = empty.near_ties(np.array([1.0]), np.array([1.0]), 1e9, SPREAD)
    assert len(s) == 0


def test_compiled_loops_find_a_writable_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed read-only and run by a user whose cache folder is writable: the cache goes
    there; with no writable cache folder either, to the temporary folder; never nowhere (numba
    would refuse to start)."""
    import zoning.run_grid as run_grid

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(run_grid.os, "access", lambda *_: False)  # the install is read-only
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run_grid._numba_cache_dir()
    assert run_grid.os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "zoning" / "numba")

    monkeypatch.delenv("NUMBA_CACHE_DIR")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # not a folder: unusable
    monkeypatch.setattr(run_grid.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    run_grid._numba_cache_dir()
    assert run_grid.os.environ["NUMBA_CACHE_DIR"].startswith(str(tmp_path / "tmp"))


def _expected_per_feature(runs: np.ndarray, row: np.ndarray, px: np.ndarray, py: np.ndarray,
                          cap: float) -> set:
    """``_expected`` with the window taken per (site, feature) instead of per site."""
    sites = shapely.points(px, py)
    s, r = np.meshgrid(np.arange(len(sites)), np.arange(len(runs)), indexing="ij")
    s, r = s.ravel(), r.ravel()
    pair = shapely.get_coordinates(shapely.shortest_line(sites[s], runs[r])).reshape(-1, 4)
    d = np.hypot(pair[:, 2] - pair[:, 0], pair[:, 3] - pair[:, 1])
    key = s * (row.max() + 1) + row[r]
    nearest = np.full(key.max() + 1, np.inf)
    np.minimum.at(nearest, key, d)
    window = np.minimum(nearest[key] * (1 + SPREAD) + 1e-6, cap + 1e-6)
    keep = (d <= window) & (nearest[key] <= cap + 1e-6)
    return {(int(a), int(b), float(x), float(y))
            for a, b, x, y in zip(s[keep], r[keep], pair[keep, 2], pair[keep, 3], strict=True)}


@pytest.mark.parametrize("cap", [300.0, 3_000.0, 12_000.0])
def test_every_feature_in_reach_is_found_with_its_near_ties(cap: float) -> None:
    runs = _runs(seed=9, n_lines=400, n_points=30)
    rng = np.random.default_rng(10)
    row = np.sort(rng.integers(0, 60, len(runs)))  # features of several runs each
    grid = _grid(runs)
    px = np.r_[rng.uniform(-5_000, 105_000, 200), -40_000.0, 50_000.0]
    py = np.r_[rng.uniform(-5_000, 105_000, 200), 50_000.0, 50_000.0]
    s, r, pairs = grid.in_reach(px, py, cap, SPREAD, row)
    assert np.array_equal(pairs[:, 0], px[s]) and np.array_equal(pairs[:, 1], py[s])
    order = np.lexsort((r, s))
    assert np.array_equal(order, np.arange(len(s)))  # sites in order, runs in order
    found = {(int(a), int(b), float(x), float(y))
             for a, b, x, y in zip(s, r, pairs[:, 2], pairs[:, 3], strict=True)}
    expected = _expected_per_feature(runs, row, px, py, cap)
    assert len(expected) > 20
    assert found == expected


def test_in_reach_of_nothing_and_of_empty_inputs() -> None:
    runs = _runs(seed=3, n_lines=20, n_points=0)
    grid = _grid(runs)
    row = np.arange(len(runs))
    s, r, pairs = grid.in_reach(np.array([-1e6]), np.array([-1e6]), 1_000.0, SPREAD, row)
    assert len(s) == len(r) == len(pairs) == 0
    s, _, _ = grid.in_reach(np.zeros(0), np.zeros(0), 1_000.0, SPREAD, row)
    assert len(s) == 0
