"""Areas and lengths on the CGCS2000 (GRS80) ellipsoid, vectorised over a whole layer.

Why not degrees: a square degree is 12,300 km² at the equator and 9,900 km² in Xining; every
area and length the build records (``area_km2``, ``length_km``, catalog totals, reference checks)
is therefore measured on the ellipsoid:

- **lengths** are geodesic: every segment of every line goes through one vectorised
  ``Geod.inv`` call and is summed per feature (``np.bincount``);
- **areas** use a Lambert azimuthal *equal-area* projection on GRS80 centred on the layer, after
  densifying edges to ≤ 0.05° so that projected straight edges follow the geodesic edges; an
  equal-area projection preserves ellipsoidal area exactly, so the result agrees with
  ``pyproj.Geod`` polygon areas to about 1e-6 (tested) while being one vectorised transform
  instead of a Python loop over rings.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod, Transformer

from layers.densify import densify

GEOD = Geod(ellps="GRS80")
#: maximum edge length (degrees) before projecting (~5 km): straight and geodesic edges then agree.
DENSIFY_DEG = 0.05


def lengths_m(geoms: np.ndarray) -> np.ndarray:
    """Geodesic length (m) of each (multi)line; other geometries give their boundary-free 0.

    >>> round(float(lengths_m(np.array([shapely.LineString([(100, 0), (101, 0)])]))[0]), 1)
    111319.5
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms))
    if not len(geoms):
        return out
    parts, owner = shapely.get_parts(geoms, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return out
    same = part_of[1:] == part_of[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    _, _, dist = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.bincount(owner[part_of[:-1][same]], weights=dist, minlength=len(geoms))


def _equal_area(center: tuple[float, float]) -> Transformer:
    lon0, lat0 = center
    return Transformer.from_proj(
        "+proj=longlat +ellps=GRS80 +no_defs",
        f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +ellps=GRS80 +units=m +no_defs",
        always_xy=True,
    )


def layer_center(geoms: np.ndarray) -> tuple[float, float]:
    """Centre of the layer's bounding box (projection centre for its areas)."""
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if not np.isfinite(minx):
        return 0.0, 0.0
    return round((minx + maxx) / 2, 6), round((miny + maxy) / 2, 6)


def areas_m2(geoms: np.ndarray, center: tuple[float, float] | None = None) -> np.ndarray:
    """Ellipsoidal area (m²) of each polygon geometry (lon/lat, EPSG:4490).

    >>> cell = shapely.box(100.0, 36.0, 101.0, 37.0)
    >>> expected = abs(GEOD.geometry_area_perimeter(shapely.segmentize(cell, 0.001))[0])
    >>> bool(abs(areas_m2(np.array([cell]))[0] / expected - 1) < 1e-6)
    True
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return np.zeros(0)
    transformer = _equal_area(center or layer_center(geoms))
    dense = densify(geoms, DENSIFY_DEG)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.area(shapely.transform(dense, project))


def overlapping_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of features whose interiors overlap (touching is fine)."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) < 2:
        empty = np.zeros(0, dtype=int)
        return empty, empty
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    overlapping = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    return left[overlapping], right[overlapping]


def overlap_areas_m2(geoms: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Area (m²) shared by each pair of features."""
    left, right = pairs
    if not len(left):
        return np.zeros(0)
    return areas_m2(shapely.intersection(geoms[left], geoms[right]), layer_center(geoms))


def union_area_m2(
    geoms: np.ndarray, areas: np.ndarray | None = None, pairs: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """Area covered by a layer, overlaps counted once.

    Only features whose interiors overlap another feature are unioned; the rest are summed, so a
    clean partition (control units, counties) costs no union at all.
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return 0.0
    center = layer_center(geoms)
    areas = areas_m2(geoms, center) if areas is None else np.asarray(areas, dtype=float)
    left, right = overlapping_pairs(geoms) if pairs is None else pairs
    involved = np.unique(np.concatenate([left, right]))
    if not len(involved):
        return float(areas.sum())
    rest = np.setdiff1d(np.arange(len(geoms)), involved)
    merged = shapely.union_all(geoms[involved])
    return float(areas[rest].sum() + areas_m2(np.array([merged], dtype=object), center)[0])
