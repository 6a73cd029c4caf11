"""The nearest feature of each class for many point sites, without measuring every feature in reach.

Why: a batch whose output is one row per site (CSV, GeoJSON) needs, per site, the nearest
feature of each layer (the ``<kind>_nearest_m`` columns) and, per class of features the rulebook
tells apart, whether one lies within the distances its rules compare with. Measuring every
feature within 10 km (and every river within 50 km) for that, as the full hits table does
(``zoning.bulk._nearby``), projects and measures ≈ 30 pieces per site and layer.

How, per layer and class, for point sites:

1. once per process: the layer's densified pieces are projected into one *conformal* plane for
   the whole data set (Lambert conformal conic fitted to its extent; conformal, so the nearest
   point in the plane is the nearest point on the ground to first order), kept in an STRtree,
   and their vertices in a k-d tree (``scipy.spatial.cKDTree``);
2. per site: the nearest vertex gives an upper bound ``d_v`` of the distance to the class (a
   vertex is a point of a feature); the STRtree returns exactly the pieces within ``d_v`` (GEOS
   ``dwithin``), usually one or two; GEOS measures those exactly and the nearest wins;
3. the winner's nearest-point pair is measured on the ellipsoid (``Geod.inv``), as everywhere
   else in the engine (``zoning.measure.distances_m``), and kept if within reach.

Nothing is approximated except the choice of the nearest point in a conformal plane, which is
exact to first order (centimetres at 10 km); the distance itself is ellipsoidal.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from layers.subdivide import DENSIFY_DEG
from zoning import measure

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

    from zoning.index import LayerIndex, VectorLayer

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
ALL = -1  # the class of every feature of a layer
# Every VERTEX_STRIDE-th vertex of an outline goes into the k-d tree (and each outline's first):
# the bound d_v is then a little looser (a few more outlines within it), the tree four times
# smaller.
VERTEX_STRIDE = 4
# Pieces per slice when outlines are built in two threads.
BUILD_SLICE = 25_000
# Outlines are cut into runs of at most this many edges (tight boxes, cheap exact distances).
OUTLINE_EDGES = 32
_PLANES: weakref.WeakKeyDictionary[LayerIndex, Plane] = weakref.WeakKeyDictionary()
_PLANES_LOCK = threading.Lock()


@dataclass(frozen=True)
class Plane:
    """A conformal projection of a data set's extent and the largest scale factor in it."""

    proj: str
    max_scale: float
    # the largest relative difference of scale between two places of the extent: planar
    # distances within this fraction of each other may rank the other way on the ellipsoid
    spread: float = 0.02

    def transformer(self) -> pyproj.Transformer:
        """This thread's transformer (pyproj transformers must not be shared between threads)."""
        return _transformer(self.proj, threading.get_ident())


@lru_cache(maxsize=64)
def _transformer(proj: str, thread: int) -> pyproj.Transformer:
    del thread  # part of the cache key only
    return pyproj.Transformer.from_pipeline(
        f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step {proj}"
    )


def plane_for_bounds(bounds: tuple[float, float, float, float]) -> Plane:
    """Lambert conformal conic on GRS80 with standard parallels at 1/6 and 5/6 of the extent.

    >>> plane_for_bounds((89.0, 31.0, 103.0, 40.0)).proj
    '+proj=lcc +lat_1=32.5 +lat_2=38.5 +lat_0=35.5 +lon_0=96 +ellps=GRS80'
    """
    west, south, east, north = (float(v) for v in bounds)
    south, north = max(south, -80.0), min(north, 84.0)
    span = max(north - south, 0.5)
    lat1 = round(south + span / 6, 4)
    lat2 = round(north - span / 6, 4) if north - span / 6 > lat1 else round(lat1 + 0.1, 4)
    proj = (
        f"+proj=lcc +lat_1={lat1:g} +lat_2={lat2:g} +lat_0={round((south + north) / 2, 4):g} "
        f"+lon_0={round((west + east) / 2, 4):g} +ellps=GRS80"
    )
    lon, lat = np.meshgrid(np.linspace(west, east, 9), np.linspace(south, north, 9))
    factors = pyproj.Proj(proj).get_factors(lon.ravel(), lat.ravel())
    scale = np.fmax(np.asarray(factors.meridional_scale), np.asarray(factors.parallel_scale))
    # sites and features may lie a little outside the extent the scale was sampled over
    top, bottom = float(np.nanmax(scale)), float(np.nanmin(scale))
    return Plane(proj, top * 1.01, (top / bottom - 1.0) * 1.5 + 1e-6)


def plane_of(index: LayerIndex) -> Plane:
    """The plane of an index's extent (computed once per index)."""
    with _PLANES_LOCK:
        plane = _PLANES.get(index)
        if plane is None:
            boxes = [layer.part_tree.geometries for layer in index.vectors.values()
                     if len(layer.parts)]
            if index.extent is not None:
                bounds = tuple(index.extent.bounds)
            elif boxes:
                bounds = tuple(shapely.total_bounds(np.concatenate(boxes)))
            else:
                bounds = (73.0, 18.0, 135.0, 54.0)  # China
            plane = plane_for_bounds(bounds)  # type: ignore[arg-type]
            _PLANES[index] = plane
        return plane


@dataclass
class ClassPieces:
    """One class of a layer's features in the plane: pieces, their feature rows, two trees."""

    pieces: NDArray[np.object_]
    piece_row: Ints
    tree: shapely.STRtree
    vertices: cKDTree


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
    layer: VectorLayer, plane: Plane, classes: LayerClasses | None, which: int
) -> ClassPieces:
    """The outlines of class ``which`` (``ALL``: every feature), built on first use and cached.

    Callers are the one thread working on this layer (``zoning.bulk``) or hold the index lock.
    """
    cache: dict[tuple[str, str, int], ClassPieces] = layer.__dict__.setdefault("_nearest", {})
    key = (plane.proj, classes.key if classes is not None and which != ALL else "", which)
    found = cache.get(key)
    if found is not None:
        return found
    outlines, outline_row = _outlines(layer, plane)
    if which == ALL:
        picked = np.arange(len(outlines))
    else:
        assert classes is not None
        picked = np.flatnonzero(classes.of_row[outline_row] == which)
    pieces = outlines[picked]
    xy, owner = shapely.get_coordinates(pieces, return_index=True)
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    keep = first | (np.arange(len(owner)) % VERTEX_STRIDE == 0)
    from scipy.spatial import cKDTree

    found = ClassPieces(
        pieces=pieces,
        piece_row=outline_row[picked],
        tree=shapely.STRtree(pieces),
        vertices=cKDTree(xy[keep], balanced_tree=False, compact_nodes=False),
    )
    cache[key] = found
    return found


def _outlines(layer: VectorLayer, plane: Plane) -> tuple[NDArray[np.object_], Ints]:
    """The layer's pieces as lines in the plane (polygon rings, line parts; points stay points),
    with long edges densified first, and the feature row of each.

    Outlines, not polygons: a site inside a feature is known from the intersection test and never
    reported as near it, and for a site outside, the distance to a polygon is the distance to its
    rings (the cut edges of pieces lie inside the feature, so they never come nearer). Lines are
    rebuilt from coordinate arrays: no polygon repair, no per-geometry Python.
    """
    cache: dict[str, tuple[NDArray[np.object_], Ints]] = layer.__dict__.setdefault("_outlines", {})
    found = cache.get(plane.proj)
    if found is not None:
        return found
    # Large layers are cut into slices outlined in two threads (GEOS, PROJ and most of NumPy
    # release the GIL): the red lines of a province take ≈ 25 s in one.
    n = len(layer.parts)
    slices = [slice(a, min(a + BUILD_SLICE, n)) for a in range(0, n, BUILD_SLICE)]
    if len(slices) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(lambda sl: _outline_slice(layer, plane, sl), slices))
    else:
        done = [_outline_slice(layer, plane, sl) for sl in slices]
    found = (
        np.concatenate([d[0] for d in done]) if done else np.empty(0, dtype=object),
        np.concatenate([d[1] for d in done]) if done else np.zeros(0, dtype=np.intp),
    )
    cache.clear()  # one plane per index: keep one projected copy
    cache[plane.proj] = found
    return found


def _outline_slice(
    layer: VectorLayer, plane: Plane, part_slice: slice
) -> tuple[NDArray[np.object_], Ints]:
    """Outlines of the pieces in ``part_slice`` (see ``_outlines``) and their feature rows."""
    parts = layer.parts[part_slice]
    part_row = layer.part_row[part_slice]
    types = shapely.get_type_id(parts)
    outlines: list[NDArray[np.object_]] = []
    rows: list[Ints] = []
    tr = plane.transformer()
    polygonal = np.isin(types, (3, 6))
    if polygonal.any():
        polygons, of_part = shapely.get_parts(parts[polygonal], return_index=True)
        rings, of_polygon = shapely.get_rings(polygons, return_index=True)
        runs, of_ring = _projected_lines(rings, tr)
        outlines.append(runs)
        rows.append(part_row[np.flatnonzero(polygonal)[of_part[of_polygon[of_ring]]]])
    lineal = np.isin(types, (1, 2, 5))
    if lineal.any():
        lines, owner = shapely.get_parts(parts[lineal], return_index=True)
        runs, of_line = _projected_lines(lines, tr)
        outlines.append(runs)
        rows.append(part_row[np.flatnonzero(lineal)[owner[of_line]]])
    punctual = np.isin(types, (0, 4))
    if punctual.any():
        points, owner = shapely.get_parts(parts[punctual], return_index=True)
        xy = shapely.get_coordinates(points)
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        outlines.append(shapely.points(x, y))
        rows.append(part_row[np.flatnonzero(punctual)[owner]])
    if not outlines:
        return np.empty(0, dtype=object), np.zeros(0, dtype=np.intp)
    return np.concatenate(outlines), np.concatenate(rows)


def _projected_lines(
    lines: NDArray[np.object_], tr: pyproj.Transformer
) -> tuple[NDArray[np.object_], Ints]:
    """Lon/lat lines (or rings) → runs of at most ``OUTLINE_EDGES`` edges in the plane, and the
    input line of each run. Edges longer than ``DENSIFY_DEG`` are split first so that the
    projected chords follow the lon/lat-straight edges."""
    xy, line = shapely.get_coordinates(lines, return_index=True)
    xy, line = densify_coordinates(xy, line, DENSIFY_DEG)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    take, chunk, owner = split_lines(line, OUTLINE_EDGES)
    coords = np.column_stack((x[take], y[take]))
    return np.asarray(shapely.linestrings(coords, indices=chunk), dtype=object), owner


def split_lines(line: Ints, edges: int) -> tuple[Ints, Ints, Ints]:
    """Cut lines (vertex → line id, sorted) into runs of at most ``edges`` edges.

    Returns the vertex to take for each output vertex (shared end vertices appear twice), the
    run of each output vertex, and the line of each run. Short runs make the tree's boxes tight
    and each exact distance cheap.

    >>> take, run, owner = split_lines(np.array([0, 0, 0, 0, 0, 1, 1]), 2)
    >>> take.tolist(), run.tolist(), owner.tolist()
    ([0, 1, 2, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1, 2, 2], [0, 0, 1])
    """
    n = len(line)
    starts = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
    sizes = np.diff(np.r_[starts, n])
    first_of = np.repeat(starts, sizes)
    pos = np.arange(n) - first_of
    size = np.repeat(sizes, sizes)
    # the run of the edge that starts at a vertex, and of the edge that ends there
    runs_per_line = np.maximum((sizes - 2) // edges + 1, 1)
    run_base = np.repeat(np.cumsum(runs_per_line) - runs_per_line, sizes)
    starting = pos < size - 1
    ending = pos > 0
    run_start = pos // edges
    run_end = (pos - 1) // edges
    also = ending & (~starting | (run_end != run_start))
    vertex = np.concatenate((np.flatnonzero(starting), np.flatnonzero(also)))
    run = np.concatenate((run_start[starting], run_end[also])) + run_base[vertex]
    lone = sizes == 1  # a one-vertex line keeps its vertex
    if lone.any():
        vertex = np.concatenate((vertex, starts[lone]))
        run = np.concatenate((run, run_base[starts[lone]]))
    order = np.lexsort((vertex, run))
    line_of_run = np.repeat(line[starts], runs_per_line)
    return vertex[order], run[order], line_of_run


def densify_coordinates(xy: Floats, line: Ints, step: float) -> tuple[Floats, Ints]:
    """Insert evenly spaced vertices in every edge longer than ``step`` (vectorised).

    ``line`` is the line of each vertex (edges only join vertices of one line).

    >>> xy, line = densify_coordinates(np.array([[0.0, 0], [1, 0], [5, 5]]), np.array([0, 0, 1]), 0.4)
    >>> xy[:, 0].round(3).tolist(), line.tolist()
    ([0.0, 0.333, 0.667, 1.0, 5.0], [0, 0, 0, 0, 1])
    """
    if len(xy) < 2:
        return xy, line
    length = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    pieces = np.where(line[1:] == line[:-1], np.ceil(length / step), 1.0).astype(np.int64)
    pieces = np.maximum(pieces, 1)
    if not (pieces > 1).any():
        return xy, line
    extra = pieces - 1  # vertices inserted after vertex i
    before = np.zeros(len(xy), dtype=np.int64)
    np.cumsum(extra, out=before[1:])
    at = np.arange(len(xy)) + before  # where the original vertices go
    size = len(xy) + int(before[-1])
    edges = np.flatnonzero(extra)
    n_new = extra[edges]
    edge = np.repeat(edges, n_new)
    step_no = np.arange(len(edge)) - np.repeat(np.cumsum(n_new) - n_new, n_new) + 1
    t = step_no / pieces[edge]
    new_at = at[edge] + step_no
    out = np.empty((size, 2))
    for k in (0, 1):  # one contiguous column at a time: 2-D fancy assignment is far slower
        col = np.ascontiguousarray(xy[:, k])
        values = np.empty(size)
        values[at] = col
        values[new_at] = col[edge] + (col[edge + 1] - col[edge]) * t
        out[:, k] = values
    out_line = np.empty(size, dtype=line.dtype)
    out_line[at] = line
    out_line[new_at] = line[edge]
    return out, out_line


def nearest(
    group: ClassPieces, plane: Plane, lon: Floats, lat: Floats, reach_m: float
) -> tuple[Ints, Ints, Floats]:
    """(site position, feature row, ellipsoidal metres) of each point site's nearest feature of
    the class, for sites with one within ``reach_m``; a site inside a feature gets 0."""
    empty = np.zeros(0, dtype=np.intp)
    if len(lon) == 0 or len(group.pieces) == 0 or reach_m <= 0:
        return empty, empty, np.zeros(0)
    tr = plane.transformer()
    x, y = tr.transform(lon, lat)
    d_vertex, _ = group.vertices.query(np.column_stack((x, y)), k=1)
    # a site farther than reach from every piece needs no exact measure at all
    # (widened by the scale spread, so that near-ties on the ellipsoid are all in it)
    window = np.minimum(d_vertex * (1.0 + plane.spread), reach_m * plane.max_scale) + 1e-6
    points = shapely.points(x, y)
    s_idx, p_idx = group.tree.query(points, predicate="dwithin", distance=window)
    if s_idx.size == 0:
        return empty, empty, np.zeros(0)
    planar = shapely.distance(points[s_idx], group.pieces[p_idx])
    # Near-ties in the plane (within the scale spread) are all measured on the ellipsoid: two
    # outlines 3.8 km away in different directions can swap order by 10 cm.
    closest = np.full(len(lon), np.inf)
    np.minimum.at(closest, s_idx, planar)
    tie = planar <= closest[s_idx] * (1.0 + plane.spread) + 1e-6
    s_idx, p_idx = s_idx[tie], p_idx[tie]
    dist = measure.distances_m(points[s_idx], group.pieces[p_idx], tr)
    order = np.lexsort((dist, s_idx))
    first = np.ones(len(order), dtype=bool)
    first[1:] = s_idx[order][1:] != s_idx[order][:-1]
    best = order[first]
    sites, pieces, dist = s_idx[best], p_idx[best], dist[best]
    inside = dist <= reach_m
    return sites[inside], group.piece_row[pieces[inside]], dist[inside]
