"""Ellipsoidal measures: the vectorised equal-area path agrees with pyproj.Geod's geodesic areas."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from layers.measure import areas_m2, lengths_m, union_area_m2

GEOD = Geod(ellps="GRS80")


def _geodesic_area(geom: shapely.Geometry) -> float:
    oriented = shapely.orient_polygons(shapely.segmentize(geom, 0.001), exterior_cw=False)
    return abs(GEOD.geometry_area_perimeter(oriented)[0])


SHAPES = [
    shapely.box(101.70, 36.60, 101.75, 36.65),  # 20 km², Xining
    shapely.box(89.0, 31.5, 103.0, 39.5),  # Qinghai-sized box
    shapely.Polygon(  # with a hole
        [(100, 35), (102, 35), (102, 37), (100, 37)], [[(100.5, 35.5), (101.5, 35.5), (101.5, 36.5), (100.5, 36.5)]]
    ),
    shapely.MultiPolygon([shapely.box(104, 25, 105, 26), shapely.box(108, 28, 109, 29)]),  # Guizhou, far apart
    shapely.buffer(shapely.Point(96.0, 35.0), 0.8, quad_segs=64),  # round, many vertices
]


@pytest.mark.parametrize("shape", SHAPES, ids=["small", "province", "hole", "multi", "round"])
def test_area_matches_geodesic(shape: shapely.Geometry) -> None:
    layer = np.array(SHAPES, dtype=object)  # measured together: one projection centre for all
    got = areas_m2(layer)[SHAPES.index(shape)]
    assert got == pytest.approx(_geodesic_area(shape), rel=2e-6)


def test_lengths_are_geodesic_per_feature() -> None:
    lines = np.array(
        [
            shapely.LineString([(100, 0), (101, 0)]),
            shapely.MultiLineString([[(100, 0), (100, 1)], [(101, 0), (101, 1)]]),
            shapely.LineString(),
        ],
        dtype=object,
    )
    got = lengths_m(lines)
    assert got[0] == pytest.approx(111_319.49, abs=0.01)
    assert got[1] == pytest.approx(2 * GEOD.inv(100, 0, 100, 1)[2], rel=1e-12)
    assert got[2] == 0.0


def test_union_area_counts_overlaps_once() -> None:
    a = shapely.box(100.0, 36.0, 101.0, 37.0)
    b = shapely.box(100.5, 36.0, 101.5, 37.0)  # overlaps half of a
    c = shapely.box(101.5, 36.0, 102.0, 37.0)  # only touches b
    geoms = np.array([a, b, c], dtype=object)
    expected = areas_m2(np.array([shapely.union_all(geoms)], dtype=object), center=(101.0, 36.5))[0]
    assert union_area_m2(geoms) == pytest.approx(expected, rel=1e-9)
    assert union_area_m2(geoms) < areas_m2(geoms).sum()


def test_union_area_of_a_partition_is_the_sum() -> None:
    cells = shapely.box(np.arange(100, 105), 36, np.arange(101, 106), 37)
    assert union_area_m2(cells) == pytest.approx(areas_m2(cells).sum(), rel=1e-12)
