"""``layers.densify``: adding points on edges never changes a geometry (GEOS segmentize can)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.densify import densify

# A control unit of the bundled pack (qh_control_units): GEOS 3.14 ``segmentize`` at 0.005°
# turns this valid polygon into an empty one (its polygon "repair" step).
CASE = shapely.from_wkt((Path(__file__).parent / "data" / "segmentize_empties.wkt").read_text())


def test_the_polygon_segmentize_empties_keeps_its_area() -> None:
    assert CASE.is_valid and CASE.area > 0.1
    dense = densify(CASE, 0.005)
    assert dense.geom_type == CASE.geom_type
    assert dense.area == pytest.approx(CASE.area, rel=1e-12)
    assert shapely.get_num_coordinates(dense) > shapely.get_num_coordinates(CASE)


def test_every_kind_of_geometry_and_missing_values() -> None:
    holed = shapely.Polygon(shapely.box(2, 2, 3, 3).exterior, [shapely.box(2.2, 2.2, 2.4, 2.4).exterior.coords])
    geoms = np.array(
        [
            shapely.MultiPolygon([shapely.box(0, 0, 1, 1), holed]),
            holed,
            shapely.LineString([(0, 0), (1, 0)]),
            shapely.MultiLineString([[(0, 0), (1, 0)], [(0, 1), (1, 1)]]),
            shapely.Point(1, 1),
            shapely.GeometryCollection([shapely.box(0, 0, 1, 1), shapely.Point(5, 5)]),
            shapely.Polygon(),
            None,
        ],
        dtype=object,
    )
    dense = densify(geoms, 0.3)
    assert dense[-1] is None and dense[-2].is_empty
    assert shapely.get_type_id(dense[:2]).tolist() == shapely.get_type_id(geoms[:2]).tolist()
    np.testing.assert_allclose(shapely.area(dense[:-1]), shapely.area(geoms[:-1]), rtol=1e-12)
    np.testing.assert_allclose(shapely.length(dense[:-1]), shapely.length(geoms[:-1]), rtol=1e-12)
    assert len(dense[0].geoms[1].interiors) == 1
    assert shapely.get_num_coordinates(dense[0]) > shapely.get_num_coordinates(geoms[0])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 40),
    seed=st.integers(0, 10_000),
    step=st.sampled_from([0.001, 0.01, 0.1]),
)
def test_area_and_length_never_change(n: int, seed: int, step: float) -> None:
    rng = np.random.default_rng(seed)
    angle = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = rng.uniform(0.05, 0.5, n)
    poly = shapely.Polygon(np.column_stack([100 + radius * np.cos(angle), 30 + radius * np.sin(angle)]))
    poly = shapely.make_valid(poly)
    dense = densify(poly, step)
    assert dense.area == pytest.approx(poly.area, rel=1e-9, abs=1e-15)
    assert dense.length == pytest.approx(poly.length, rel=1e-9)


def _on_each_others_outline(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair: every vertex of each lies on the other's outline (within 1e-9°)."""
    ok = np.ones(len(a), dtype=bool)
    for one, other in ((a, b), (b, a)):
        outline = shapely.boundary(other)
        shapely.prepare(outline)
        xy, owner = shapely.get_coordinates(one, return_index=True)
        np.logical_and.at(ok, owner, shapely.dwithin(outline[owner], shapely.points(xy), 1e-9))
    return ok


def test_no_polygon_of_the_bundled_pack_moves(bundled_data_dir: Path) -> None:
    """GEOS ``segmentize`` returned 53 polygons of the bundled pack (control units, red lines)
    with their outline moved, some with area, parts and rings intact (one by 0.028°; a control
    unit then lay 5 km farther from a point than it is). Densified, every feature must keep
    its parts and lie on its own outline."""
    from zoning.index import LayerIndex

    index = LayerIndex.load(bundled_data_dir)
    checked = 0
    for layer in index.vectors.values():
        geoms = layer.geoms[~(shapely.is_empty(layer.geoms) | shapely.is_missing(layer.geoms))]
        areal = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
        if not len(areal):
            continue
        dense = densify(areal, 0.005)
        assert (shapely.get_num_geometries(dense) == shapely.get_num_geometries(areal)).all()
        assert _on_each_others_outline(dense, areal).all(), layer.id
        checked += len(areal)
    assert checked > 500
