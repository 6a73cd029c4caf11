"""Densify geometries ring by ring: ``shapely.segmentize`` without its polygon "repair".

Why not ``shapely.segmentize`` on polygons: GEOS densifies a polygon and then runs
``buffer(0)`` over the result to make it valid, and with GEOS 3.14 that step turns some valid
polygons with long, nearly collinear edges (Voronoi control units) into a fraction of
themselves or into an empty polygon: 36 of 4,770 polygons of the bundled pack lost between
10 % and 100 % of their area. It can also keep the area, the parts and the rings and still
move the outline: 4 layers of the bundled pack had features that came back up to 3 km
(0.028°) away from where they are, and a control unit then lay 5 km farther from a point than
it is. Adding points on straight edges cannot change a polygon's shape, so no repair is
needed: the rings are densified as lines (no buffer) and the polygons rebuilt from them, for
every polygon (as fast as GEOS's own call, whose repair step costs as much). Lines and points
go through ``shapely.segmentize`` as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7


def densify(geoms: Any, max_segment: float) -> Any:
    """Split every edge longer than ``max_segment`` (scalar geometry or array, same shape)."""
    if isinstance(geoms, shapely.Geometry):
        return densify(np.array([geoms], dtype=object), max_segment)[0]
    geoms = np.asarray(geoms, dtype=object)
    type_id = shapely.get_type_id(geoms)
    present = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    areal = np.isin(type_id, (_POLYGON, _MULTIPOLYGON)) & present
    collection = (type_id == _COLLECTION) & present
    plain = ~areal & ~collection
    out = np.empty(len(geoms), dtype=object)
    if plain.any():
        out[plain] = shapely.segmentize(geoms[plain], max_segment)
    if areal.any():
        out[areal] = _densify_areal(geoms[areal], type_id[areal], max_segment)
    if collection.any():  # members one by one, then the collection again
        members, owner = shapely.get_parts(geoms[collection], return_index=True)
        rebuilt = np.empty(int(collection.sum()), dtype=object)
        shapely.geometrycollections(densify(members, max_segment), indices=owner, out=rebuilt)
        out[collection] = rebuilt
    return out


def _densify_areal(
    geoms: NDArray[np.object_], type_id: NDArray[np.int32], max_segment: float
) -> NDArray[np.object_]:
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # shell first, then holes
    dense_rings = shapely.segmentize(rings, max_segment)  # rings are lines: no buffer(0)
    polygons = shapely.polygons(dense_rings, indices=ring_part)
    out = np.empty(len(geoms), dtype=object)
    single = type_id == _POLYGON
    # a Polygon has exactly one part; a MultiPolygon's parts are regrouped into it
    first = np.searchsorted(owner, np.arange(len(geoms)))
    out[single] = polygons[first[single]]
    keep = ~single[owner]
    if keep.any():
        shapely.multipolygons(polygons[keep], indices=owner[keep], out=out)
    return out
