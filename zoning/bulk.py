"""Bulk screening of many sites at once (``screen_many``): the batch and benchmark path.

Why separate from ``screen``: for thousands to millions of sites the per-site overhead (Python,
pydantic) dominates, so here every step is one array operation over all (site, feature) pairs of
a layer: one STRtree query for all sites, one vectorised predicate against the prepared
features, one vectorised intersection, and measures grouped by projection centre (a 0.5° grid,
the same projections ``screen`` uses, so the numbers agree with ``screen``). Python loops run only
over layers and over the few hundred projection centres of a province.

Stable signature (the bench/ and batch code call it)::

    screen_many(sites: GeoDataFrame, index, buffers_m=(1000, 5000, 10000), search_m=None,
                layers=None) -> pandas.DataFrame

One row per (site, feature) hit, columns ``HIT_COLUMNS``; ``site_index`` holds the label of the
site in ``sites.index``. ``screen_many_full`` also returns ``coverage`` (site_index, layer,
status, covered_share; only sites not fully covered; a layer with covered_share 0 for a site
gave no hits for it: "no data", not "nothing found") and ``rivers`` (site_index, layer, river,
level, basin, distance_m, feature_id). Raster statistics and attributes are not computed in
bulk: ``screen`` per site gives them, and ``feature_row`` lets a caller fetch attributes with
``index.vectors[layer].attributes(rows)``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from zoning import measure
from zoning.errors import InvalidGeometryError
from zoning.index import LayerIndex, VectorLayer
from zoning.nearest import (
    ALL,
    LayerClasses,
    class_pieces,
    every_in_reach,
    nearest_to_geometries,
    plane_of,
)
from zoning.nearest import nearest as nearest_of_class
from zoning.pairs import group_pairs
from zoning.screen import (
    _LINE_TYPES,
    _POLY_TYPES,
    DEFAULT_BUFFERS_M,
    RIVER_KINDS,
    RIVER_REACH_M,
    check_buffers,
    overlap_pieces_pairwise,
)

HIT_COLUMNS = [
    "site_index", "layer", "layer_kind", "feature_id", "feature_row", "name", "zone_class",
    "relation", "overlap_area_m2", "overlap_ratio", "length_inside_m", "distance_m", "band_m",
    "share", "accuracy",
]
Ints = NDArray[np.intp]
Floats = NDArray[np.float64]


class _Sites:
    """Site geometries with everything the layers share: type, projection group, local measures."""

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        self.geoms = geoms
        self.type_id = shapely.get_type_id(geoms)
        self.all_points = bool(np.all(self.type_id == 0))
        if not self.all_points:
            shapely.prepare(geoms)
        cx, cy = _centroids(geoms, self.all_points)
        self.x, self.y = cx, cy  # the coordinates themselves when every site is a point
        glon, glat = measure.grid_centre(cx, cy)
        keys = np.round(glon / measure.GRID_DEG).astype(np.int64) * 100_000 + np.round(
            glat / measure.GRID_DEG
        ).astype(np.int64)
        self.group_keys, first, self.group = np.unique(keys, return_index=True, return_inverse=True)
        self.group_centre = list(zip(glon[first].tolist(), glat[first].tolist(), strict=True))
        self.bounds = shapely.bounds(geoms)
        self.area = np.zeros(len(geoms))
        self.length = np.zeros(len(geoms))
        if not self.all_points:
            local = self.project(geoms, np.arange(len(geoms)))
            self.area = np.asarray(shapely.area(local), dtype="float64")
            self.length = np.asarray(shapely.length(local), dtype="float64")

    def private_copy(self) -> _Sites:
        """The same sites with their own geometry objects (prepared anew when not points)."""
        twin = copy.copy(self)
        if not self.all_points:
            twin.geoms = shapely.transform(self.geoms, lambda xy: xy)  # new GEOS geometries
            shapely.prepare(twin.geoms)
        return twin

    def transformer(self, g: int):  # type: ignore[no-untyped-def]
        return measure.local_transformer(*self.group_centre[g])

    def project(self, geoms: NDArray[np.object_], site_rows: Ints) -> NDArray[np.object_]:
        """Project ``geoms`` (one per pair) into the projection of each pair's site."""
        out = np.empty(len(geoms), dtype=object)
        for g, sel in _split(self.group[site_rows]):
            out[sel] = measure.project(geoms[sel], self.transformer(g))
        return out

    def distances(self, site_rows: Ints, feat_rows: Ints, layer: VectorLayer) -> Floats:
        """Ellipsoidal shortest distances per (site, feature) pair.

        Per projection group, each involved feature and site is projected once (not once per
        pair), then nearest points are found pairwise and measured with ``Geod.inv``.
        """
        out = np.full(len(site_rows), np.inf)
        for g, sel in _split(self.group[site_rows]):
            tr = self.transformer(g)
            feats, f_pos = np.unique(feat_rows[sel], return_inverse=True)
            own, s_pos = np.unique(site_rows[sel], return_inverse=True)
            f_local = measure.project(layer.dense(feats), tr, densify=False)  # dense pieces
            s_local = measure.project(self.geoms[own], tr)
            out[sel] = measure.distances_m(s_local[s_pos], f_local[f_pos], tr)
        return out


def _split(keys: Ints) -> list[tuple[int, Ints]]:
    """(key, positions) for each distinct key, without a pass over the data per key."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    return list(zip(uniq.tolist(), np.split(order, starts[1:]), strict=True))


def _centroids(geoms: NDArray[np.object_], all_points: bool) -> tuple[Floats, Floats]:
    if all_points:
        xy = shapely.get_coordinates(geoms)
    else:
        xy = shapely.get_coordinates(shapely.centroid(geoms))
    return xy[:, 0], xy[:, 1]


def degree_margins(bounds: NDArray[np.float64], reach: Floats | float) -> tuple[Floats, Floats]:
    """Vectorised ``measure.degree_margin`` for many sites (identical numbers)."""
    reach = np.broadcast_to(np.asarray(reach, dtype="float64"), (len(bounds),))
    dlat = reach / 110_500.0 * 1.01
    lat = np.maximum(np.abs(bounds[:, 1]), np.abs(bounds[:, 3]))
    lat_far = np.minimum(89.0, lat + dlat)
    dlon = reach / (111_320.0 * np.cos(np.radians(lat_far))) * 1.01
    zero = reach <= 0
    return np.where(zero, 0.0, dlon), np.where(zero, 0.0, dlat)


@dataclass
class BulkResult:
    """Everything the bulk path finds: hits, coverage gaps and river distances, per site."""

    hits: pd.DataFrame  # HIT_COLUMNS
    coverage: pd.DataFrame  # site_index, layer, status, covered_share (sites not fully covered)
    rivers: pd.DataFrame  # site_index, layer, river, level, basin, distance_m, feature_id


def screen_many(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    index: LayerIndex,
    buffers_m: Sequence[float] | None = DEFAULT_BUFFERS_M,
    search_m: float | None = None,
    layers: Iterable[str] | None = None,
    *,
    chunk_size: int = 100_000,
    threads: int | None = None,
) -> pd.DataFrame:
    """Screen every site in ``sites`` (EPSG:4490 lon/lat) in bulk; the hits table.

    Same measures as ``zoning.screen.screen`` (see the module docstring for the columns); sites
    that are None or empty are skipped. Other CRSs are converted with ``to_crs``. Use
    ``screen_many_full`` to also get coverage gaps and river distances.
    """
    return screen_many_full(
        sites, index, buffers_m, search_m, layers, chunk_size=chunk_size, threads=threads
    ).hits


def screen_many_full(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    index: LayerIndex,
    buffers_m: Sequence[float] | None = DEFAULT_BUFFERS_M,
    search_m: float | None = None,
    layers: Iterable[str] | None = None,
    *,
    chunk_size: int = 100_000,
    threads: int | None = None,
    nearest: Mapping[str, LayerClasses] | None = None,
) -> BulkResult:
    """Like ``screen_many`` but returns hits, coverage gaps and river distances.

    Sites are processed ``chunk_size`` at a time so memory stays bounded for millions of sites.
    ``threads``: layers screened in parallel (default ``default_threads()``: ``ZONING_THREADS``
    or CPUs + 1; give 1 in processes that are one of several workers, such as Dask workers).

    ``nearest`` (layer id → ``LayerClasses``) asks for the *nearest-only* hits instead of every
    feature within reach: the features a site meets, its nearest feature of each layer within
    reach, and its nearest feature of each class within that class's reach; river distances
    likewise per class. That is all a per-site summary and the rulebook need (rules only ask
    whether *some* matching feature lies within a distance), and for point sites it is
    measured without touching every feature in reach (``zoning.nearest``). Layers missing from
    the mapping get the nearest feature only.
    """
    bands, reach = check_buffers(buffers_m, search_m)
    geoseries = sites.geometry if isinstance(sites, gpd.GeoDataFrame) else sites
    if geoseries.crs is not None and geoseries.crs.to_epsg() != 4490:
        geoseries = geoseries.to_crs(4490)
    labels = geoseries.index.to_numpy()
    geoms = np.asarray(geoseries.values, dtype=object)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad_types = valid & np.isin(shapely.get_type_id(geoms), (7,))
    if bad_types.any():
        raise InvalidGeometryError(
            f"site {labels[np.flatnonzero(bad_types)[0]]!r} is a GeometryCollection",
            field="geometry",
            hint="split it into separate sites",
        )
    keep = np.flatnonzero(valid)
    wanted = set(layers) if layers is not None else None
    with index.lock:
        parts = [
            _screen_chunk(
                geoms, labels, keep[i : i + chunk_size], index, bands, reach, wanted,
                default_threads() if threads is None else max(1, threads), nearest,
            )
            for i in range(0, max(len(keep), 1), chunk_size)
        ]
    if len(parts) == 1:
        return parts[0]
    return BulkResult(*(_concat([getattr(p, k) for p in parts]) for k in
                        ("hits", "coverage", "rivers")))


def default_threads() -> int:
    """``ZONING_THREADS`` if set, else one more than the CPUs this process may use.

    One more, because layers differ in size: with exactly one thread per core the last big
    layer runs alone while the other core idles (measured: 3 threads 5–7 % faster than 2 on
    2 cores for province-scale point batches, equal on the bundled pack).
    """
    value = os.environ.get("ZONING_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return cpus + 1 if cpus > 1 else 1


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    nonempty = [f for f in frames if len(f)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else frames[0]


def _screen_chunk(
    geoms: NDArray[np.object_],
    labels: NDArray[np.object_],
    keep: Ints,
    index: LayerIndex,
    bands: tuple[float, ...],
    reach: float,
    wanted: set[str] | None,
    threads: int,
    nearest: Mapping[str, LayerClasses] | None = None,
) -> BulkResult:
    prepared = _Sites(geoms[keep].copy())
    chosen = [v for v in index.vectors.values() if wanted is None or v.id in wanted]
    # Coverage first, once per coverage polygon (the layers of a region share one), and outside
    # the threads: a prepared geometry must not be used by two threads at once.
    by_coverage: dict[int, tuple[Floats | None, pd.DataFrame | None]] = {}
    covered = []
    for layer in chosen:
        key = id(layer.coverage)
        if key not in by_coverage:
            by_coverage[key] = _coverage(prepared, layer)
        share, cov = by_coverage[key]
        if cov is not None:
            cov = cov.assign(layer=layer.id)
        covered.append((share, cov))
    parallel = threads > 1 and len(chosen) > 1

    def one_layer(
        task: tuple[VectorLayer, tuple[Floats | None, pd.DataFrame | None]],
    ) -> tuple[pd.DataFrame | None, pd.DataFrame, pd.DataFrame]:
        layer, (share, cov) = task
        # Each thread gets its own site geometries (their prepared state is not thread-safe);
        # the layer's pieces are only ever used by the one task screening that layer.
        sites = prepared.private_copy() if parallel else prepared
        river_reach = max(reach, RIVER_REACH_M) if layer.kind in RIVER_KINDS else 0.0
        if nearest is None:
            hits = _layer_hits(sites, layer, bands, reach, share, data_dir=index.data_dir)
            rivers = (_rivers(sites, layer, river_reach, share, index.data_dir) if river_reach
                      else pd.DataFrame())
            return cov, hits, rivers
        found = _NearestHits(sites, layer, nearest.get(layer.id), share, index.data_dir)
        hits = _layer_hits(sites, layer, bands, reach, share, found)
        rivers = found.rivers(river_reach) if river_reach else pd.DataFrame()
        return cov, hits, rivers

    tasks = list(zip(chosen, covered, strict=True))
    if parallel:
        # GEOS releases the GIL, so layers screened in threads use every core
        with ThreadPoolExecutor(max_workers=min(threads, len(chosen))) as pool:
            results = list(pool.map(one_layer, tasks))
    else:
        results = [one_layer(task) for task in tasks]
    coverage = [cov for cov, _, _ in results if cov is not None]
    frames = [hits for _, hits, _ in results]
    rivers = [riv for _, _, riv in results if len(riv)]
    for cov in coverage:
        cov["site_index"] = labels[keep[cov.pop("site_row").to_numpy()]]
    nonempty = [f for f in frames if len(f)]
    hits = pd.concat(nonempty, ignore_index=True) if nonempty else None
    if hits is None:
        hits = pd.DataFrame({c: pd.Series(dtype=object) for c in HIT_COLUMNS})
    else:
        hits["site_index"] = labels[keep[hits["site_index"].to_numpy()]]
        hits = hits[HIT_COLUMNS]
    river_frame = pd.concat(rivers, ignore_index=True) if rivers else pd.DataFrame()
    if len(river_frame):
        river_frame["site_index"] = labels[keep[river_frame["site_index"].to_numpy()]]
    cov_frame = pd.concat(coverage, ignore_index=True) if coverage else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in ("site_index", "layer", "status", "covered_share")}
    )
    return BulkResult(hits, cov_frame, river_frame)


def _coverage(sites: _Sites, layer: VectorLayer) -> tuple[Floats | None, pd.DataFrame | None]:
    """Per-site covered share (None: covered everywhere) and rows for sites not fully covered."""
    if layer.coverage is None:
        return None, None
    inside = shapely.contains(layer.coverage, sites.geoms)
    touch = shapely.intersects(layer.coverage, sites.geoms)
    share = np.where(inside, 1.0, 0.0)
    partial = np.flatnonzero(touch & ~inside)
    if partial.size:
        pieces = shapely.intersection(sites.geoms[partial], layer.coverage)
        local = sites.project(pieces, partial)
        poly = np.isin(sites.type_id[partial], _POLY_TYPES)
        line = np.isin(sites.type_id[partial], _LINE_TYPES)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(
                poly, shapely.area(local) / sites.area[partial],
                np.where(line, shapely.length(local) / sites.length[partial],
                         shapely.get_num_geometries(pieces)
                         / shapely.get_num_geometries(sites.geoms[partial])),
            )
        share[partial] = np.clip(np.nan_to_num(frac), 0.0, 1.0)
    rows = np.flatnonzero(~inside)
    frame = pd.DataFrame(
        {"site_row": rows, "layer": layer.id, "status": "no_data", "covered_share": share[rows]}
    )
    return share, frame


def _layer_hits(
    sites: _Sites, layer: VectorLayer, bands: tuple[float, ...], reach: float,
    share: Floats | None, nearest: _NearestHits | None = None, data_dir: Path | None = None,
) -> pd.DataFrame:
    r = 0.0 if layer.is_containment else reach
    if nearest is not None and sites.all_points and r > 0 and _without_area(layer):
        # A point meets a line (or point) feature only where its distance to it is nil, so only
        # points whose nearest such feature lies within a metre are tested: the pieces of long
        # rivers have boxes kilometres wide, and testing every point in them cost more than the
        # distances themselves. (A metre is far above the few millimetres the plane's chords
        # and the ellipsoid can add.)
        candidates = nearest.near_sites(r, within_m=1.0)
        s_idx, p_idx = layer.part_tree.query(sites.geoms[candidates])
        s_idx = candidates[s_idx]
    else:
        s_idx, p_idx = layer.part_tree.query(sites.geoms)
    if share is not None:
        ok = share[s_idx] > 0
        s_idx, p_idx = s_idx[ok], p_idx[ok]
    if sites.all_points:
        inter = shapely.intersects_xy(layer.parts[p_idx], sites.x[s_idx], sites.y[s_idx])
    else:
        inter = shapely.intersects(layer.parts[p_idx], sites.geoms[s_idx])  # pieces prepared
    s_idx, p_idx = s_idx[inter], p_idx[inter]
    si, fi, group = _feature_pairs(layer, s_idx, p_idx)
    out = [_intersecting(sites, layer, si, fi, s_idx, p_idx, group)]
    if r > 0:
        if nearest is None:
            out.append(_within(sites, layer, r, bands, share, si, fi, data_dir))
        else:
            cap = max(reach, RIVER_REACH_M) if layer.kind in RIVER_KINDS else reach
            nearest.met(si, fi)
            out.append(_banded(layer, *nearest.within(r, exclude=(si, fi), cap=cap), bands))
    nonempty = [f for f in out if len(f)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else out[0]


def _without_area(layer: VectorLayer) -> bool:
    """Whether every feature of the layer is a line or a point (none has an inside)."""
    return len(layer.geom_types) > 0 and bool(np.isin(layer.geom_types, (0, 1, 2, 4, 5)).all())


def _feature_pairs(layer: VectorLayer, s_idx: Ints, p_idx: Ints) -> tuple[Ints, Ints, Ints]:
    """(site, feature) pairs of (site, piece) pairs, and the pair of each piece pair."""
    if len(layer.parts) == len(layer.feature_id):  # nothing was subdivided: pieces are features
        return s_idx, layer.part_row[p_idx], np.arange(len(s_idx), dtype=np.intp)
    return group_pairs(s_idx, layer.part_row[p_idx])


def _frame(layer: VectorLayer, si: Ints, fi: Ints, relation: str, **cols: object) -> pd.DataFrame:
    n = len(si)
    nan = np.full(n, np.nan)
    data: dict[str, object] = {
        "site_index": si,
        "layer": _const(layer.id, n),
        "layer_kind": _const(layer.kind, n),
        "feature_id": layer.feature_id[fi],
        "feature_row": fi,
        "name": layer.name[fi],
        "zone_class": layer.zone_class[fi],
        "relation": _const(relation, n),
        "overlap_area_m2": nan,
        "overlap_ratio": nan,
        "length_inside_m": nan,
        "distance_m": np.zeros(n),
        "band_m": nan,
        "share": nan,
        "accuracy": layer.accuracy[fi],
    }
    data.update(cols)
    # Object columns as they are: letting pandas infer its str dtype for every text column
    # costs more than the spatial work for point batches.
    return pd.DataFrame(
        {k: pd.Series(v, dtype=object, copy=False) if _is_text(v) else v for k, v in data.items()}
    )


def _const(value: str, n: int) -> NDArray[np.object_]:
    out = np.empty(n, dtype=object)
    out[:] = value  # much faster than np.full for object arrays
    return out


def _is_text(values: object) -> bool:
    return isinstance(values, np.ndarray) and values.dtype == object


def _intersecting(
    sites: _Sites, layer: VectorLayer, si: Ints, fi: Ints, ps: Ints, pp: Ints, group: Ints
) -> pd.DataFrame:
    """Hits of intersecting (site ``si``, feature ``fi``) pairs, measured from the per-piece
    pairs (site ``ps``, piece ``pp``) that ``group`` maps onto them."""
    relation = "contains_site" if layer.is_containment else "intersects"
    n = len(si)
    if n == 0:
        return _frame(layer, si, fi, relation)
    stype = sites.type_id[si]
    if sites.all_points:
        share = np.ones(n)
        return _frame(layer, si, fi, relation, share=share if layer.is_containment else np.nan)
    ftype = layer.geom_types[fi]
    area = np.full(n, np.nan)
    ratio = np.full(n, np.nan)
    length = np.full(n, np.nan)
    share = np.ones(n)
    measured_piece = sites.type_id[ps] != 0  # point sites: nothing to measure
    measured = stype != 0
    if measured.any():
        k = np.flatnonzero(measured_piece)
        s_geoms, p_geoms = sites.geoms[ps[k]], layer.parts[pp[k]]
        pieces = overlap_pieces_pairwise(s_geoms, p_geoms)
        local = sites.project(pieces, ps[k])
        a = np.bincount(group[k], shapely.area(local), minlength=n)
        ln = np.bincount(group[k], shapely.length(local), minlength=n)
        m = np.flatnonzero(measured)
        a, ln = a[m], ln[m]
        s_area, s_len = sites.area[si[m]], sites.length[si[m]]
        poly_site = np.isin(stype[m], _POLY_TYPES)
        line_site = np.isin(stype[m], _LINE_TYPES)
        poly_feat = np.isin(ftype[m], _POLY_TYPES)
        line_feat = np.isin(ftype[m], _LINE_TYPES)
        with np.errstate(invalid="ignore", divide="ignore"):
            r_area = np.clip(np.where(s_area > 0, a / s_area, 0.0), 0.0, 1.0)
            ln_site = np.minimum(ln, s_len)
            r_len = np.clip(np.where(s_len > 0, ln_site / s_len, 0.0), 0.0, 1.0)
        area[m] = np.where(poly_site & poly_feat, np.minimum(a, s_area), np.nan)
        ratio[m] = np.where(poly_site & poly_feat, r_area,
                            np.where(line_site & poly_feat, r_len, np.nan))
        length[m] = np.where(poly_site & line_feat, ln, np.where(line_site, ln_site, np.nan))
        share[m] = np.where(poly_site & poly_feat, r_area,
                            np.where(line_site & poly_feat, r_len, 1.0))
    return _frame(
        layer, si, fi, relation, overlap_area_m2=area, overlap_ratio=ratio,
        length_inside_m=length, share=share if layer.is_containment else np.full(n, np.nan),
    )


def _within(
    sites: _Sites, layer: VectorLayer, reach: float, bands: tuple[float, ...],
    share: Floats | None, si: Ints, fi: Ints, data_dir: Path | None = None,
) -> pd.DataFrame:
    return _banded(layer, *_nearby(sites, layer, reach, share, (si, fi), data_dir), bands)


def _banded(
    layer: VectorLayer, s_idx: Ints, f_idx: Ints, dist: Floats, bands: tuple[float, ...]
) -> pd.DataFrame:
    """``within_buffer`` hits of (site, feature, distance) triples, with their display band."""
    if s_idx.size == 0:
        return _frame(layer, s_idx, f_idx, "within_buffer")
    order = np.lexsort((f_idx, dist, s_idx))
    s_idx, f_idx, dist = s_idx[order], f_idx[order], dist[order]
    band = np.full(len(dist), np.nan)
    if bands:
        arr = np.asarray(bands)
        pos = np.searchsorted(arr, dist, side="left")
        band = np.where(pos < len(arr), arr[np.minimum(pos, len(arr) - 1)], np.nan)
    return _frame(layer, s_idx, f_idx, "within_buffer", distance_m=dist, band_m=band)


def _nearby(
    sites: _Sites, layer: VectorLayer, reach: float, share: Floats | None,
    exclude: tuple[Ints, Ints] | None = None, data_dir: Path | None = None,
) -> tuple[Ints, Ints, Floats]:
    """(site, feature, shortest distance) for every feature within ``reach`` of a site.

    Point sites: from the layer's outlines (``zoning.nearest.every_in_reach``: the compiled
    grid walk, the nearest point found in the layer's plane and measured on the ellipsoid, as
    in nearest mode; within a centimetre of ``screen``'s figure). Other sites: distances are
    measured to the pieces in reach and the minimum is kept per feature. ``exclude`` drops
    (site, feature) pairs already known to intersect.
    """
    if sites.all_points:
        return _nearby_points(sites, layer, reach, share, exclude, data_dir)
    dlon, dlat = degree_margins(sites.bounds, reach)
    b = sites.bounds
    boxes = shapely.box(b[:, 0] - dlon, b[:, 1] - dlat, b[:, 2] + dlon, b[:, 3] + dlat)
    s_idx, p_idx = layer.part_tree.query(boxes)
    if share is not None:
        ok = share[s_idx] > 0
        s_idx, p_idx = s_idx[ok], p_idx[ok]
    f_idx = layer.part_row[p_idx]
    if exclude is not None:
        rest = _not_among(layer, s_idx, f_idx, exclude)
        s_idx, p_idx, f_idx = s_idx[rest], p_idx[rest], f_idx[rest]
    empty = np.zeros(0, dtype=np.intp)
    if s_idx.size == 0:
        return empty, empty, np.zeros(0)
    dist = sites.distances(s_idx, p_idx, layer)
    near = dist <= reach
    s_idx, p_idx, f_idx, dist = s_idx[near], p_idx[near], f_idx[near], dist[near]
    if s_idx.size == 0:
        return empty, empty, np.zeros(0)
    si, fi, group = group_pairs(s_idx, f_idx)
    best = np.full(len(si), np.inf)
    np.minimum.at(best, group, dist)
    return si, fi, best


def _nearby_points(
    sites: _Sites, layer: VectorLayer, reach: float, share: Floats | None,
    exclude: tuple[Ints, Ints] | None, data_dir: Path | None,
) -> tuple[Ints, Ints, Floats]:
    rows = np.flatnonzero(share > 0) if share is not None else np.arange(len(sites.geoms))
    plane = plane_of(layer)
    group = class_pieces(layer, plane, None, ALL, data_dir)
    s, f, d = every_in_reach(group, plane, sites.x[rows], sites.y[rows], reach)
    s = rows[s]
    if exclude is not None:
        rest = _not_among(layer, s, f, exclude)
        s, f, d = s[rest], f[rest], d[rest]
    return s, f, d


def _not_among(layer: VectorLayer, s_idx: Ints, f_idx: Ints, pairs: tuple[Ints, Ints]) -> NDArray[np.bool_]:
    """Which (site, feature) pairs are not among ``pairs`` (site rows, feature rows)."""
    if not len(pairs[0]):
        return np.ones(len(s_idx), dtype=bool)
    nf = max(len(layer.feature_id), 1)
    return ~np.isin(s_idx.astype(np.int64) * nf + f_idx, pairs[0].astype(np.int64) * nf + pairs[1])


def _rivers(sites: _Sites, layer: VectorLayer, reach: float, share: Floats | None,
            data_dir: Path | None = None) -> pd.DataFrame:
    return _river_table(layer, *_nearby(sites, layer, reach, share, data_dir=data_dir))


def _river_table(layer: VectorLayer, s_idx: Ints, f_idx: Ints, dist: Floats) -> pd.DataFrame:
    """The nearest distance per (site, river, level, basin), like ``screen``'s river list."""
    from zoning.screen import river_names

    if s_idx.size == 0:
        return pd.DataFrame()
    table = pd.DataFrame({
        "site_index": s_idx,
        "layer": layer.id,
        "river": river_names(layer, f_idx),
        "level": layer.zone_class[f_idx],
        "basin": layer.column("basin", f_idx),
        "distance_m": dist,
        "feature_id": layer.feature_id[f_idx],
        "_row": f_idx,
    })
    keys = ["site_index", "river", "level", "basin"]
    table = table.sort_values(["site_index", "distance_m", "_row"], kind="stable")
    nearest = table.drop_duplicates(subset=keys, keep="first")
    return nearest.drop(columns="_row").reset_index(drop=True)


class _NearestHits:
    """Nearest-only distances of one layer for one chunk of sites (``screen_many_full(nearest=)``).

    Per site: its nearest feature of the layer, and its nearest feature of each class the rules
    read at a distance, each within its reach. Each query runs once and serves both the hits
    (within ``reach``) and the river list (within the river reach). Sites go through
    ``zoning.nearest`` (points by their coordinates, other sites as projected geometries).
    """

    def __init__(
        self, sites: _Sites, layer: VectorLayer, classes: LayerClasses | None,
        share: Floats | None, data_dir: Path | None,
    ) -> None:
        self.sites, self.layer, self.classes = sites, layer, classes
        self.plane, self.data_dir = plane_of(layer), data_dir
        self.rows = np.flatnonzero(share > 0) if share is not None else np.arange(len(sites.geoms))
        self._done: dict[tuple[int, float], tuple[Ints, Ints, Floats]] = {}
        # nearest of any class for every site, met or not (``near_sites``), by reach
        self._every: dict[float, tuple[Ints, Ints, Floats]] = {}
        self._met: tuple[Ints, Ints] = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))

    def near_sites(self, reach: float, within_m: float) -> Ints:
        """The sites whose nearest feature (of any class, searched to ``reach``) is within
        ``within_m``: the only point sites that can meet a feature without an inside. The
        search is kept and serves ``query(ALL, reach)`` once the met sites are known."""
        found = self._every.get(reach)
        if found is None:
            found = self._search(ALL, reach, self.rows)
            self._every[reach] = found
        s, _, d = found
        return np.unique(s[d <= within_m])

    def met(self, site_rows: Ints, feature_rows: Ints) -> None:
        """The (site, feature) pairs that intersect: a site that meets a feature of a class is
        at distance 0 from it, so the class is not searched for that site at all."""
        self._met = (site_rows, feature_rows)

    def _unmet(self, which: int) -> Ints:
        s, f = self._met
        if which != ALL:
            assert self.classes is not None
            s = s[self.classes.of_row[f] == which]
        return np.setdiff1d(self.rows, s, assume_unique=False) if len(s) else self.rows

    def _class_reaches(self, cap: float) -> list[tuple[int, float]]:
        if self.classes is None:
            return []
        return [(c, min(r, cap)) for c, r in sorted(self.classes.reach_m.items()) if r > 0]

    def query(self, which: int, reach: float) -> tuple[Ints, Ints, Floats]:
        """(site, feature, metres): each site's nearest feature of class ``which`` in reach."""
        key = (which, reach)
        found = self._done.get(key)
        if found is not None:
            return found
        rows = self._unmet(which)
        every = self._every.get(reach) if which == ALL else None
        if every is not None:  # searched for every site already: keep the unmet ones
            s, f, d = every
            keep = np.zeros(len(self.sites.geoms), dtype=bool)
            keep[rows] = True
            keep = keep[s]
            found = (s[keep], f[keep], d[keep])
            self._done[key] = found
            return found
        known = self._from_every_class(which, reach, rows)
        if known is not None:
            rows, answered = known
        found = self._search(which, reach, rows)
        if known is not None:
            s, f, d = (np.concatenate(pair) for pair in zip(answered, found, strict=True))
            found = (s, f, d)
        self._done[key] = found
        return found

    def _search(self, which: int, reach: float, rows: Ints) -> tuple[Ints, Ints, Floats]:
        """(site, feature, metres): the nearest feature of class ``which`` of each site in
        ``rows`` that has one within ``reach``."""
        group = class_pieces(self.layer, self.plane, self.classes, which, self.data_dir)
        if self.sites.all_points:
            s, f, d = nearest_of_class(group, self.plane, self.sites.x[rows], self.sites.y[rows],
                                       reach)
        else:
            s, f, d = nearest_to_geometries(group, self.plane, self.sites.geoms[rows], reach)
        return rows[s], f, d

    def _from_every_class(
        self, which: int, reach: float, rows: Ints
    ) -> tuple[Ints, tuple[Ints, Ints, Floats]] | None:
        """What the nearest feature of *any* class already says about class ``which``.

        The class's nearest distance is never shorter than the layer's. So a site that meets no
        feature and whose nearest feature (searched at least as far as ``reach``) is farther
        than ``reach``, or absent, has none of the class in reach; and a site whose nearest
        feature is of the class has found its answer. Only the other sites are searched
        (returned first, with the answers already known). None: no such search was made yet.
        """
        if which == ALL or self.classes is None:
            return None
        searched = [r for (c, r) in self._done if c == ALL and r >= reach]
        if not searched:
            return None
        s_all, f_all, d_all = self._done[(ALL, min(searched))]
        near = d_all <= reach
        same = near & (self.classes.of_row[f_all] == which)
        # settled: sites meeting no feature of the layer, unless their nearest feature is in
        # reach and of another class
        settled = np.zeros(len(self.sites.geoms), dtype=bool)
        settled[self._unmet(ALL)] = True
        settled[s_all[near]] = False
        settled[s_all[same]] = True
        return rows[~settled[rows]], (s_all[same], f_all[same], d_all[same])

    def within(
        self, reach: float, exclude: tuple[Ints, Ints], cap: float | None = None
    ) -> tuple[Ints, Ints, Floats]:
        """Nearest-only (site, feature, metres) within ``reach``, without the pairs in
        ``exclude`` (those that intersect, reported as such). ``cap``: the reach class queries
        are made at (the river reach for river layers, so the river list reuses them)."""
        cap = max(reach, cap or 0.0)
        found = [self.query(ALL, reach)]
        for c, r in self._class_reaches(cap):
            s, f, d = self.query(c, r)
            near = d <= min(r, reach)
            found.append((s[near], f[near], d[near]))
        s = np.concatenate([x[0] for x in found])
        f = np.concatenate([x[1] for x in found])
        d = np.concatenate([x[2] for x in found])
        nf = max(len(self.layer.feature_id), 1)
        codes = s.astype(np.int64) * nf + f
        keep = ~np.isin(codes, exclude[0].astype(np.int64) * nf + exclude[1])
        s, f, d, codes = s[keep], f[keep], d[keep], codes[keep]
        _, first = np.unique(codes, return_index=True)  # the same pair found twice: same distance
        return s[first], f[first], d[first]

    def rivers(self, reach: float) -> pd.DataFrame:
        """The river list: per site, the nearest river of each class the rules read."""
        found = [self.query(c, r) for c, r in self._class_reaches(reach)]
        if not found:
            return pd.DataFrame()
        return _river_table(self.layer, *(np.concatenate([x[k] for x in found]) for k in range(3)))
