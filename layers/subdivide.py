"""Cut large features into small pieces for the index (the ``ST_Subdivide`` idea).

Why: every GEOS predicate and overlay costs time linear in the vertices of the feature it
touches. A red-line polygon of 25,000 vertices makes each small site that lands near it pay for
all 25,000; its pieces of at most ``MAX_VERTICES`` vertices bound that cost, and their tight
bounding boxes let the STRtree reject most candidates before GEOS runs at all.

Pieces are produced by repeatedly halving a feature's bounding box along its longer side with
``shapely.clip_by_rect`` (GEOS rectangle clipping, far cheaper than a general overlay) until each
piece has few enough vertices. Halves share only the cut line, so areas and lengths of the
pieces add up to those of the feature; measures per feature are sums over its pieces and
distances are minima. Clipping output is checked: an invalid piece falls back to the exact
``intersection`` with the same rectangle.

``zoning build`` stores the pieces of each layer next to it (``<id>.pieces.parquet``: the
piece geometries and ``row``, the feature each belongs to), so the service loads them instead
of cutting again at every start; a layer whose features are all small has no pieces file.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from layers.densify import densify

# PostGIS's documented default for ST_Subdivide; the bench notes measured the effect.
MAX_VERTICES = 256
# Edges longer than this (degrees, ≈ 500 m) are split before measuring, so that an edge straight
# in lon/lat stays (nearly) the same curve once projected (``dense_pieces``; zoning.measure
# uses the same constant for the geometries it densifies itself).
DENSIFY_DEG = 0.005
# Stop halving below this size (degrees, ≈ 10 m): a piece that small never needs to be smaller.
MIN_SIZE_DEG = 1e-4


def subdivide(
    geoms: NDArray[np.object_], max_vertices: int = MAX_VERTICES
) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """(pieces, row of the source feature per piece); small features are their own piece.

    Pieces are not densified: point and overlay tests run in lon/lat, where an edge is straight
    as stored, and extra vertices would only cost time; the engine densifies the pieces it
    measures distances to (``dense_pieces``). Points and empty geometries pass through
    unchanged. Pieces keep the order of their features (sorted by source row), which keeps
    results deterministic.
    """
    geoms = np.asarray(geoms, dtype=object)
    rows = np.arange(len(geoms), dtype=np.intp)
    done_geoms: list[NDArray[np.object_]] = []
    done_rows: list[NDArray[np.intp]] = []
    work, work_rows = geoms, rows
    while len(work):
        bounds = shapely.bounds(work)
        size = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        small = (
            (shapely.get_num_coordinates(work) <= max_vertices)
            | (shapely.get_dimensions(work) < 1)
            | ~(size >= MIN_SIZE_DEG)  # also NaN bounds of empties
        )
        done_geoms.append(work[small])
        done_rows.append(work_rows[small])
        work, work_rows, bounds = work[~small], work_rows[~small], bounds[~small]
        if not len(work):
            break
        halves_a, halves_b = _halve(work, bounds)
        work = np.concatenate([halves_a, halves_b])
        work_rows = np.concatenate([work_rows, work_rows])
        keep = ~(shapely.is_empty(work) | shapely.is_missing(work))
        work, work_rows = work[keep], work_rows[keep]
    pieces = np.concatenate(done_geoms) if done_geoms else np.empty(0, dtype=object)
    piece_rows = np.concatenate(done_rows) if done_rows else np.empty(0, dtype=np.intp)
    order = np.argsort(piece_rows, kind="stable")
    # Cut edges stay as they are: they run inside the feature, so no shortest distance from
    # outside ends on them, and overlaps are densified when they are measured.
    return pieces[order], piece_rows[order]


def _halve(
    geoms: NDArray[np.object_], bounds: NDArray[np.float64]
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Each geometry cut in two across the middle of the longer side of its bounding box."""
    x0, y0, x1, y1 = (bounds[:, k] for k in range(4))
    wide = (x1 - x0) >= (y1 - y0)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    # rectangles a little larger than the box, so no edge on the box boundary is lost
    pad = np.maximum(x1 - x0, y1 - y0) * 0.01 + 1e-9
    lo_x, lo_y, hi_x, hi_y = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    rects_a = np.column_stack(
        [lo_x, lo_y, np.where(wide, mx, hi_x), np.where(wide, hi_y, my)]
    )
    rects_b = np.column_stack(
        [np.where(wide, mx, lo_x), np.where(wide, lo_y, my), hi_x, hi_y]
    )
    return _clip(geoms, rects_a), _clip(geoms, rects_b)


def _clip(geoms: NDArray[np.object_], rects: NDArray[np.float64]) -> NDArray[np.object_]:
    # clip_by_rect takes one rectangle per call; the loop is over features being split (few,
    # at load time), and GEOS does the work inside each call.
    out = np.array(
        [_clip_one(g, r) for g, r in zip(geoms, rects.tolist(), strict=True)], dtype=object
    )
    polygonal = shapely.get_dimensions(out) == 2
    bad = polygonal & ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.intersection(geoms[bad], shapely.box(*rects[bad].T))
    return _same_dimension(out, shapely.get_dimensions(geoms))


def _same_dimension(
    pieces: NDArray[np.object_], dims: NDArray[np.int32]
) -> NDArray[np.object_]:
    """Drop the lower-dimensional leftovers a clip can return with a polygon (a collection of a
    polygon and a sliver line): a piece of an area is an area, a piece of a line a line."""
    mixed = np.flatnonzero(shapely.get_type_id(pieces) == 7)
    for i in mixed:  # rare: a handful per layer
        parts = shapely.get_parts(pieces[i])
        keep = parts[shapely.get_dimensions(parts) == dims[i]]
        if dims[i] == 2:
            pieces[i] = shapely.multipolygons(shapely.get_parts(keep)) if len(keep) else None
        else:
            pieces[i] = shapely.multilinestrings(shapely.get_parts(keep)) if len(keep) else None
    return pieces


def _clip_one(geom: shapely.Geometry, rect: list[float]) -> shapely.Geometry:
    """Fast rectangle clip; the exact overlay where GEOS's clipper gives up (degenerate rings)."""
    try:
        return shapely.clip_by_rect(geom, *rect)
    except shapely.errors.GEOSException:
        return shapely.intersection(geom, shapely.box(*rect))


def pieces_format(max_vertices: int) -> str:
    """What the catalog records about how pieces were cut; stored pieces of another format are
    cut again at load."""
    return f"v4: at most {max_vertices} vertices, not densified, one dimension"


def dense_pieces(pieces: NDArray[np.object_]) -> NDArray[np.object_]:
    """``pieces`` with edges longer than ``DENSIFY_DEG`` split, for measuring distances.

    A long edge that is straight in lon/lat is a curve in a local projection (≈ 18 m off the
    chord for a 36 km edge), so distances are measured to densified pieces. Pieces without long
    edges are returned as themselves (the same objects: no extra memory).
    """
    dense = densify(pieces, DENSIFY_DEG)
    same = shapely.get_num_coordinates(dense) == shapely.get_num_coordinates(pieces)
    dense[same] = pieces[same]
    return dense


def pieces_current(entry: object, max_vertices: int) -> bool:
    """Whether a catalog entry's stored pieces were cut the way this code would cut them."""
    return getattr(entry, "pieces_format", None) == pieces_format(max_vertices)


def write_pieces(
    geoms: NDArray[np.object_], folder: Path, layer_id: str, max_vertices: int = MAX_VERTICES
) -> dict[str, object]:
    """Cut ``geoms`` and write the pieces under ``folder``; the catalog fields that describe them.

    Returns ``pieces`` (relative path), ``pieces_version`` and ``piece_vertices``; point
    layers have no pieces file (a point is its own piece).
    """
    from layers.catalog import sha256_file
    from layers.write import STORAGE_CRS, write_geoparquet

    fields: dict[str, object] = {
        "pieces": None,
        "pieces_version": None,
        "piece_vertices": max_vertices,
        "pieces_format": pieces_format(max_vertices),
    }
    if not len(geoms) or shapely.get_dimensions(geoms).max() < 1:
        return fields
    pieces, rows = subdivide(geoms, max_vertices)
    rel = f"layers/{layer_id}.pieces.parquet"
    frame = gpd.GeoDataFrame(
        {"row": rows.astype(np.int32)}, geometry=gpd.GeoSeries(pieces, crs=STORAGE_CRS)
    )
    write_geoparquet(frame, folder / rel)
    fields.update(pieces=rel, pieces_version=sha256_file(folder / rel))
    return fields
