"""Outlines of a layer's features in a conformal plane: what nearest-distance searches run on.

Why a file of its own, written by ``zoning build``: a batch that needs, per site, the nearest
zone of each layer (``zoning.nearest``) searches the features' *outlines* (polygon rings and
lines; points stay points) in one conformal plane fitted to the layer, cut into runs of at most
``OUTLINE_EDGES`` edges. Making them takes ≈ 25 s for a province's red lines (19 M vertices:
rings, densifying, projecting, cutting); reading them back takes a few seconds. Outlines, not
polygons: a site inside a feature is known from the intersection test, and for a site outside,
the distance to a polygon is the distance to its rings.

Edges longer than ``DENSIFY_DEG`` are split before projecting, so the projected chords follow the
edges that are straight in lon/lat (as the index pieces are measured elsewhere). The plane is a
Lambert conformal conic: conformal, so the nearest point in the plane is the nearest point on the
ground to first order; its scale factors bound how distances in the plane relate to metres.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyproj
import shapely
from numpy.typing import NDArray

from layers.subdivide import DENSIFY_DEG

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
# Outlines are cut into runs of at most this many edges (tight boxes, cheap exact distances).
OUTLINE_EDGES = 32
# Features per slice when outlines are made in two threads (GEOS, PROJ and most of NumPy
# release the GIL).
BUILD_SLICE = 25_000
# The outlines file: an Arrow IPC file (``write_outlines``); builds before it wrote Parquet,
# which ``layers.load.load_outlines`` still reads.
OUTLINES_SUFFIX = ".outlines.arrow"


def outlines_format() -> str:
    """What the catalog records about how outlines were made; others are made again at load."""
    return f"v1: rings and lines, edges <= {DENSIFY_DEG} deg, runs of <= {OUTLINE_EDGES} edges"


@dataclass(frozen=True)
class Plane:
    """A conformal projection of a layer's extent, its largest scale factor and their spread."""

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


@dataclass(frozen=True)
class Outlines:
    """Outline runs as coordinate arrays: what nearest searches read, without a GEOS object each.

    Run ``r`` is vertices ``first[r]:first[r + 1]`` of ``x``, ``y`` (one vertex: a point
    feature), of feature ``row[r]``. (Two arrays, not one of pairs: they come so from the file.)
    """

    x: Floats
    y: Floats
    first: NDArray[np.int64]
    row: Ints

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def from_geometries(cls, runs: NDArray[np.object_], row: Ints) -> Outlines:
        xy, owner = shapely.get_coordinates(runs, return_index=True)
        first = np.searchsorted(owner, np.arange(len(runs) + 1)).astype(np.int64)
        return cls(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), first,
                   np.asarray(row, dtype=np.intp))

    def take(self, runs: Ints) -> Outlines:
        """The outlines ``runs`` (in that order)."""
        sizes = np.diff(self.first)[runs]
        first = np.zeros(len(runs) + 1, dtype=np.int64)
        np.cumsum(sizes, out=first[1:])
        vertex = np.arange(first[-1]) - np.repeat(first[:-1] - self.first[runs], sizes)
        return Outlines(self.x[vertex], self.y[vertex], first, self.row[runs])

    @cached_property
    def geometries(self) -> NDArray[np.object_]:
        """The runs as GEOS geometries (lines, and points for one-vertex runs), made once."""
        sizes = np.diff(self.first)
        out = np.empty(len(sizes), dtype=object)
        line = sizes > 1
        if line.any():
            keep = np.repeat(line, sizes)
            index = np.repeat(np.arange(int(line.sum())), sizes[line])
            out[line] = shapely.linestrings(self.x[keep], self.y[keep], indices=index)
        if (~line).any():
            at = self.first[:-1][~line]
            out[~line] = shapely.points(self.x[at], self.y[at])
        return out


def make_outlines(
    geoms: NDArray[np.object_], row: Ints, plane: Plane
) -> tuple[NDArray[np.object_], Ints]:
    """Outlines of ``geoms`` in ``plane`` and, per outline, the ``row`` of its geometry.

    Large inputs are cut into slices made in two threads.
    """
    n = len(geoms)
    slices = [slice(a, min(a + BUILD_SLICE, n)) for a in range(0, n, BUILD_SLICE)]
    if len(slices) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(lambda sl: _outline_slice(geoms[sl], row[sl], plane), slices))
    else:
        done = [_outline_slice(geoms[sl], row[sl], plane) for sl in slices]
    if not done:
        return np.empty(0, dtype=object), np.zeros(0, dtype=np.intp)
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def _outline_slice(
    parts: NDArray[np.object_], part_row: Ints, plane: Plane
) -> tuple[NDArray[np.object_], Ints]:
    """Outlines of ``parts`` and the ``part_row`` of each."""
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

    ``line`` is the line of each vertex (edges only join vertices of one line). The same vertices
    as GEOS ``segmentize`` (tested), but on coordinate arrays: the outlines are rebuilt from
    arrays anyway, so no intermediate geometries are made (``layers.densify`` works on
    geometries, and rebuilds polygons).

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


def outlines_current(entry: object, plane: Plane) -> bool:
    """Whether a catalog entry's stored outlines are in ``plane`` and made the way this code
    makes them."""
    return (
        getattr(entry, "outlines_format", None) == outlines_format()
        and getattr(entry, "outlines_plane", None) == plane.proj
    )


def write_outlines(geoms: NDArray[np.object_], folder: Path, layer_id: str) -> dict[str, object]:
    """Make and write the outlines of a layer's features; the catalog fields describing them.

    Returns ``outlines`` (relative path), ``outlines_version``, ``outlines_format`` and
    ``outlines_plane`` (the PROJ string of the plane, fitted to the layer's extent).
    """
    from layers.catalog import sha256_file

    fields: dict[str, object] = {
        "outlines": None, "outlines_version": None, "outlines_format": None,
        "outlines_plane": None,
    }  # fmt: skip
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))] if len(geoms) else geoms
    if not len(present):
        return fields
    plane = plane_for_bounds(tuple(shapely.total_bounds(present)))  # type: ignore[arg-type]
    runs, rows = make_outlines(geoms, np.arange(len(geoms)), plane)
    rel = f"layers/{layer_id}{OUTLINES_SUFFIX}"
    frame = gpd.GeoDataFrame(
        {"row": rows.astype(np.int32)}, geometry=gpd.GeoSeries(runs, crs=pyproj.CRS(plane.proj))
    )
    # Coordinates stored as GeoArrow (not WKB) when the runs are of one type, in an uncompressed
    # Arrow IPC file: a batch maps it into memory and uses the coordinates where they lie, with
    # no decoding and no private copy (0.3 s for a province's red lines, against 0.8–1.6 s from
    # LZ4 Parquet and 4.7 s from WKB decoded into geometries; processes share the pages).
    one_type = len(np.unique(shapely.get_type_id(runs))) == 1
    table = pa.table(frame.to_arrow(index=False, geometry_encoding="geoarrow" if one_type else "WKB",
                                    interleaved=False))
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(folder / rel), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    fields.update(outlines=rel, outlines_version=sha256_file(folder / rel),
                  outlines_format=outlines_format(), outlines_plane=plane.proj)
    return fields
