"""Cutting features into pieces changes only speed: every answer stays the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.subdivide import MIN_SIZE_DEG, subdivide
from zoning.bulk import screen_many_full
from zoning.index import LayerIndex
from zoning.pairs import group_pairs
from zoning.screen import screen
from zoning.site import Site

from .test_bulk import _sites

KEY = ["site_index", "layer", "feature_id", "relation"]
MEASURES = ["overlap_area_m2", "overlap_ratio", "length_inside_m", "distance_m", "share"]


def _jagged(seed: int, n: int = 400) -> shapely.Polygon:
    rng = np.random.default_rng(seed)
    angle = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = 0.2 * (1 + 0.4 * rng.uniform(-1, 1, n))
    ring = np.column_stack([100 + radius * np.cos(angle), 36 + radius * np.sin(angle)])
    return shapely.make_valid(shapely.Polygon(ring))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), max_vertices=st.sampled_from([16, 64, 128]))
def test_pieces_add_up_to_the_feature(seed: int, max_vertices: int) -> None:
    feature = _jagged(seed)
    line = shapely.LineString(shapely.get_coordinates(feature.boundary)[:300])
    pieces, rows = subdivide(np.array([feature, line, shapely.Point(1, 2)]), max_vertices)
    assert set(rows.tolist()) == {0, 1, 2}
    assert shapely.is_valid(pieces).all()
    plain, _ = subdivide(np.array([feature]), max_vertices)
    over = shapely.get_num_coordinates(plain) > max_vertices
    b = shapely.bounds(plain[over])  # only pieces too small to cut again
    assert (np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < MIN_SIZE_DEG).all()
    assert shapely.area(pieces[rows == 0]).sum() == pytest.approx(feature.area, rel=1e-12)
    assert shapely.length(pieces[rows == 1]).sum() == pytest.approx(line.length, rel=1e-12)
    assert shapely.union_all(pieces[rows == 0]).symmetric_difference(feature).area < 1e-12
    assert pieces[rows == 2][0].equals(shapely.Point(1, 2))


def test_group_pairs() -> None:
    s, f, g = group_pairs(np.array([3, 1, 3, 1]), np.array([5, 2, 5, 7]))
    assert s.tolist() == [1, 1, 3] and f.tolist() == [2, 7, 5]
    assert g.tolist() == [2, 0, 2, 1]


def _compare(fine: pd.DataFrame, whole: pd.DataFrame) -> None:
    a = fine.sort_values(KEY).reset_index(drop=True)
    b = whole.sort_values(KEY).reset_index(drop=True)
    assert a[KEY].astype(str).equals(b[KEY].astype(str))
    for col in MEASURES:
        np.testing.assert_allclose(
            a[col].astype(float), b[col].astype(float), rtol=1e-5, atol=1e-2, err_msg=col
        )


@pytest.mark.parametrize("which", ["test pack", "bundled pack"])
def test_answers_do_not_depend_on_piece_size(
    which: str, pack_dir: Path, request: pytest.FixtureRequest
) -> None:
    folder = pack_dir if which == "test pack" else request.getfixturevalue("bundled_data_dir")
    fine = LayerIndex.load(folder, piece_vertices=5 if which == "test pack" else 64)
    whole = LayerIndex.load(folder, piece_vertices=10**9)
    assert any(len(v.parts) > len(v.geoms) for v in fine.vectors.values())
    assert all(len(v.parts) == len(v.geoms) for v in whole.vectors.values())
    sites = _sites(n=40)
    if which == "bundled pack":  # around 西宁 and 青海湖, where real layers overlap
        sites = sites.set_geometry(sites.geometry.translate(xoff=-1.6, yoff=0.2))
    a = screen_many_full(sites, fine)
    b = screen_many_full(sites, whole)
    assert len(a.hits) > 0
    _compare(a.hits, b.hits)
    rivers = ["site_index", "layer", "river", "level", "basin"]
    if len(a.rivers) or len(b.rivers):
        ra, rb = (r.sort_values(rivers).reset_index(drop=True) for r in (a.rivers, b.rivers))
        assert ra[rivers].astype(str).equals(rb[rivers].astype(str))
        np.testing.assert_allclose(ra["distance_m"], rb["distance_m"], rtol=1e-5, atol=1e-2)
    for label in sites.index[:8]:
        site = Site.from_geometry(sites.geometry[label], "EPSG:4490")
        one = [screen(site, ix) for ix in (fine, whole)]
        rows = [
            pd.DataFrame([h.model_dump(exclude={"attributes"}) for h in r.hits]).assign(
                site_index=label
            )
            for r in one
        ]
        if len(rows[0]) or len(rows[1]):
            _compare(rows[0], rows[1])
        assert [r.distance_m for r in one[0].rivers] == pytest.approx(
            [r.distance_m for r in one[1].rivers], rel=1e-5
        )
