"""The nearest feature of each class for many point sites, without measuring every feature in reach.

Why: a batch whose output is one row per site (CSV, GeoJSON) needs, per site, the nearest
feature of each layer (the ``<kind>_nearest_m`` columns) and, per class of features the rulebook
tells apart, whether one lies within the distances its rules compare with. Measuring every
feature within 10 km (and every river within 50 km) for that, as the full hits table does
(``zoning.bulk._nearby``), projects and measures ≈ 30 pieces per site and layer.

How, per layer and class:

1. once per process: the layer's outlines in its conformal plane (``layers.outlines``: written
   by ``zoning build``, or made from the pieces when the file is missing or stale), cut into
   runs of at most 32 edges;
2. point sites: a compiled walk of a grid of those runs (``zoning.run_grid``) finds, per site,
   the runs whose planar distance is within the plane's scale spread of the nearest, and the
   nearest-point pair on each, as GEOS would;
   other sites: the nearest outline vertex to any vertex of the site (a k-d tree,
   ``scipy.spatial.cKDTree``) bounds the distance, the runs within that bound widened by the
   scale spread come from an STRtree (GEOS ``dwithin``), and GEOS ``shortest_line`` gives
   each one's nearest-point pair;
3. those pairs are measured on the ellipsoid (``Geod.inv``, as everywhere else in the engine:
   ``zoning.measure.distances_m``), and the nearest on the ellipsoid is kept if within reach.

Nothing is approximated except where the nearest point on an outline is found (in a conformal
plane: exact to first order, millimetres at 10 km); distances are ellipsoidal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.load import load_outlines
from layers.outlines import Outlines, Plane, make_outlines, outlines_current, plane_for_bounds
from zoning import measure
from zoning.run_grid import RunGrid

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

    from zoning.index import VectorLayer

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
ALL = -1  # the class of every feature of a layer
# Every VERTEX_STRIDE-th vertex of an outline goes into the k-d tree (and each outline's first):
# the bound d_v is then a little looser (a few more outlines within it), the tree four times
# smaller.
VERTEX_STRIDE = 4


def plane_of(layer: VectorLayer) -> Plane:
    """The layer's plane: fitted to its extent (the one its stored outlines are in); cached."""
    plane: Plane | None = layer.__dict__.get("_plane")
    if plane is None:
        present = layer.parts[~shapely.is_missing(layer.parts)]
        bounds = shapely.total_bounds(present) if len(present) else (73.0, 18.0, 135.0, 54.0)
        plane = plane_for_bounds(tuple(float(v) for v in bounds))  # type: ignore[arg-type]
        layer.__dict__["_plane"] = plane
    return plane


@dataclass
class ClassPieces:
    """One class of a layer's features in the plane: its outline runs (``runs`` of the layer's
    outlines ``every``; None: all of them) and the structures the searches walk, each made on
    first use: a grid of the runs for point sites (``zoning.run_grid``); the runs as GEOS
    geometries (shared by the classes of a layer), an STRtree of them and a k-d tree of their
    vertices for other sites.
    """

    every: Outlines
    runs: Ints | None = None

    @cached_property
    def piece_row(self) -> Ints:
        return self.every.row if self.runs is None else self.every.row[self.runs]

    def __len__(self) -> int:
        return len(self.piece_row)

    def _outlines(self) -> Outlines:
        """The class's runs as arrays of their own (a copy for a class, so not kept)."""
        return self.every if self.runs is None else self.every.take(self.runs)

    @cached_property
    def grid(self) -> RunGrid:
        outlines = self._outlines()
        return RunGrid.build(outlines.x, outlines.y, outlines.first)

    @cached_property
    def pieces(self) -> NDArray[np.object_]:
        every = self.every.geometries
        return every if self.runs is None else every[self.runs]

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.pieces)

    @cached_property
    def vertices(self) -> cKDTree:
        from scipy.spatial import cKDTree

        outlines = self._outlines()
        first, x, y = outlines.first, outlines.x, outlines.y
        # every VERTEX_STRIDE-th vertex of a run, and its first
        pos = np.arange(len(x)) - np.repeat(first[:-1], np.diff(first))
        keep = pos % VERTEX_STRIDE == 0
        return cKDTree(np.column_stack((x[keep], y[keep])), balanced_tree=False,
                       compact_nodes=False)


@dataclass(frozen=True)
class LayerClasses:
    """Classes of a layer's features for nearest-only screening, and how far each matters.

    ``of_row``: class id per feature row (-1: a feature no rule reads at a distance).
    ``reach_m``: per class id, the distance beyond which no feature of the class changes a rule's
    answer (0: only a feature the site meets matters; ``inf``: any distance in reach). ``key``
    names the classification (``zoning.api`` uses the rulebook version) for the caches.
    """

    key: str
    of_row: Ints
    reach_m: dict[int, float]


def class_pieces(
    layer: VectorLayer, plane: Plane, classes: LayerClasses | None, which: int,
    data_dir: Path | None = None,
) -> ClassPieces:
    """The outlines of class ``which`` (``ALL``: every feature), built on first use and cached.

    Callers are the one thread working on this layer (``zoning.bulk``) or hold the index lock.
    """
    cache: dict[tuple[str, int], ClassPieces] = layer.__dict__.setdefault("_nearest", {})
    key = (classes.key if classes is not None and which != ALL else "", which)
    found = cache.get(key)
    if found is not None:
        return found
    every = _outlines(layer, plane, data_dir)
    if which == ALL:
        found = ClassPieces(every)
    else:
        assert classes is not None
        found = ClassPieces(every, np.flatnonzero(classes.of_row[every.row] == which))
    cache[key] = found
    return found


def _outlines(layer: VectorLayer, plane: Plane, data_dir: Path | None) -> Outlines:
    """The layer's outlines in its plane (``plane_of``: one per layer) with the feature row of
    each run: the file ``zoning build`` wrote (``layers.outlines``) when it is current, else
    made now from the pieces; cached on the layer."""
    found: Outlines | None = layer.__dict__.get("_outlines")
    if found is None:
        if data_dir is not None and outlines_current(layer.entry, plane):
            found = load_outlines(data_dir, layer.entry)
        if found is None:
            found = Outlines.from_geometries(*make_outlines(layer.parts, layer.part_row, plane))
        layer.__dict__["_outlines"] = found
    return found


def nearest(
    group: ClassPieces, plane: Plane, lon: Floats, lat: Floats, reach_m: float
) -> tuple[Ints, Ints, Floats]:
    """(site position, feature row, ellipsoidal metres) of each point site's nearest feature of
    the class, for sites with one within ``reach_m``."""
    if len(lon) == 0 or len(group) == 0 or reach_m <= 0:
        return _none()
    tr = plane.transformer()
    x, y = tr.transform(lon, lat)
    s_idx, p_idx, pairs = group.grid.near_ties(x, y, reach_m * plane.max_scale, plane.spread)
    if s_idx.size == 0:
        return _none()
    return _nearest_on_ellipsoid(group, s_idx, p_idx, measure.pair_distances_m(pairs, tr), reach_m)


def every_in_reach(
    group: ClassPieces, plane: Plane, lon: Floats, lat: Floats, reach_m: float
) -> tuple[Ints, Ints, Floats]:
    """(site position, feature row, ellipsoidal metres) of every feature of the class within
    ``reach_m`` of each point site: ``nearest`` per feature instead of per site (the full hits
    table lists every zone in reach). Rows come by site, then by feature."""
    if len(lon) == 0 or len(group) == 0 or reach_m <= 0:
        return _none()
    tr = plane.transformer()
    x, y = tr.transform(lon, lat)
    s_idx, p_idx, pairs = group.grid.in_reach(x, y, reach_m * plane.max_scale, plane.spread,
                                              group.piece_row)
    if s_idx.size == 0:
        return _none()
    dist = measure.pair_distances_m(pairs, tr)
    # the nearest of each feature's near-tie runs, measured on the ellipsoid
    return _nearest_on_ellipsoid(group, s_idx, p_idx, dist, reach_m, per_feature=True)


def nearest_to_geometries(
    group: ClassPieces, plane: Plane, geoms: NDArray[np.object_], reach_m: float
) -> tuple[Ints, Ints, Floats]:
    """``nearest`` for sites of any geometry type (lon/lat): lines and polygons too.

    The bound is the nearest outline vertex to any vertex of the site (the site is projected
    with its long edges densified, like the outlines); a site that meets a feature is expected
    to be left out by the caller, since its distance to it is 0.
    """
    if len(geoms) == 0 or len(group) == 0 or reach_m <= 0:
        return _none()
    local = measure.project(geoms, plane.transformer())
    xy, owner = shapely.get_coordinates(local, return_index=True)
    d_vertex = np.full(len(geoms), np.inf)
    if len(xy):
        d, _ = group.vertices.query(xy, k=1)
        np.minimum.at(d_vertex, owner, d)
    return _closest(group, plane, local, d_vertex, reach_m)


def _none() -> tuple[Ints, Ints, Floats]:
    empty = np.zeros(0, dtype=np.intp)
    return empty, empty, np.zeros(0)


def _closest(
    group: ClassPieces, plane: Plane, local: NDArray[np.object_], d_vertex: Floats, reach_m: float
) -> tuple[Ints, Ints, Floats]:
    """The nearest outline of each site (in the plane) within its bound ``d_vertex``, measured
    on the ellipsoid; sites farther than ``reach_m`` are left out."""
    # (widened by the scale spread, so that near-ties on the ellipsoid are all in it; a site
    # farther than reach from every outline needs no exact measure at all)
    window = np.minimum(d_vertex * (1.0 + plane.spread), reach_m * plane.max_scale) + 1e-6
    s_idx, p_idx = group.tree.query(local, predicate="dwithin", distance=window)
    if s_idx.size == 0:
        return _none()
    # the nearest-point pair in the plane, found once: its length ranks the candidates and its
    # ends are what the ellipsoid measures
    pairs = measure.shortest_pairs(local[s_idx], group.pieces[p_idx])
    planar = np.hypot(pairs[:, 2] - pairs[:, 0], pairs[:, 3] - pairs[:, 1])
    # Near-ties in the plane (within the scale spread) are all measured on the ellipsoid: two
    # outlines 3.8 km away in different directions can swap order by 10 cm.
    closest = np.full(len(local), np.inf)
    np.minimum.at(closest, s_idx, planar)
    tie = planar <= closest[s_idx] * (1.0 + plane.spread) + 1e-6
    s_idx, p_idx = s_idx[tie], p_idx[tie]
    dist = measure.pair_distances_m(pairs[tie], plane.transformer())
    return _nearest_on_ellipsoid(group, s_idx, p_idx, dist, reach_m)


def _nearest_on_ellipsoid(
    group: ClassPieces, s_idx: Ints, p_idx: Ints, dist: Floats, reach_m: float,
    per_feature: bool = False,
) -> tuple[Ints, Ints, Floats]:
    """Of each site's candidate runs (measured on the ellipsoid: ``dist``), the nearest, and its
    feature row; equally near features (the shared border of two zones) go to the lowest row,
    as in ``screen``'s list. ``per_feature``: the nearest of each (site, feature) instead.
    Pairs farther than ``reach_m`` are left out."""
    rows = group.piece_row[p_idx]
    order = np.lexsort((dist, rows, s_idx) if per_feature else (rows, dist, s_idx))
    first = np.ones(len(order), dtype=bool)
    first[1:] = s_idx[order][1:] != s_idx[order][:-1]
    if per_feature:
        first[1:] |= rows[order][1:] != rows[order][:-1]
    best = order[first]
    sites, rows, dist = s_idx[best], rows[best], dist[best]
    inside = dist <= reach_m
    return sites[inside], rows[inside], dist[inside]
