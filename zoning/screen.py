"""Screening: which zones a site touches, by how much, and how far the nearest ones are.

Per layer, one STRtree envelope query returns every feature within reach of the site; then, all
vectorised over the candidates: which ones intersect (prepared geometries), the overlap pieces
and their areas/lengths in a local equal-area projection, and for the others the shortest
ellipsoidal distance (``zoning.measure``). Nothing loops over features in Python.

``screen`` serves one site (HTTP, CLI); ``screen_many`` (implemented in ``zoning.bulk``) serves
batches with the same measures in bulk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from zoning import measure
from zoning.coverage import layer_coverage
from zoning.crs import check_swapped, parse_crs
from zoning.errors import ZoningError
from zoning.index import LayerIndex, VectorLayer
from zoning.pairs import group_pairs
from zoning.raster import zonal_stats
from zoning.result import Hit, LayerCoverage, RasterStats, RiverDistance, SpatialResult
from zoning.site import Site

DEFAULT_BUFFERS_M: tuple[float, ...] = (1000.0, 5000.0, 10000.0)
MAX_REACH_M = 200_000.0
# Shoreline rules need the distance to each river by level; look this far for them.
RIVER_REACH_M = 50_000.0
RIVER_KINDS = frozenset({"river"})

_POLY_TYPES = (3, 6)  # shapely type ids: Polygon, MultiPolygon
_LINE_TYPES = (1, 2, 5)  # LineString, LinearRing, MultiLineString


def check_buffers(
    buffers_m: Iterable[float] | None, search_m: float | None = None
) -> tuple[tuple[float, ...], float]:
    """Validated, sorted buffer bands and the overall reach in metres."""
    values = tuple(DEFAULT_BUFFERS_M if buffers_m is None else buffers_m)
    out: list[float] = []
    for i, b in enumerate(values):
        if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0:
            raise ZoningError(
                f"buffers_m[{i}] must be a positive number of metres, got {b!r}",
                field=f"buffers_m[{i}]",
                hint="e.g. [1000, 5000, 10000]",
            )
        if b > MAX_REACH_M:
            raise ZoningError(
                f"buffers_m[{i}] = {b:g} m exceeds the limit of {MAX_REACH_M:g} m",
                field=f"buffers_m[{i}]",
                hint=f"use bands up to {MAX_REACH_M:g} m",
            )
        out.append(float(b))
    bands = tuple(sorted(set(out)))
    reach = bands[-1] if bands else 0.0
    if search_m is not None:
        if not (isinstance(search_m, int | float) and math.isfinite(search_m) and search_m >= 0):
            raise ZoningError(
                f"search_m must be a non-negative number, got {search_m!r}",
                field="search_m",
                hint="give metres",
            )
        reach = max(reach, min(float(search_m), MAX_REACH_M))
    return bands, reach


@dataclass
class SiteFrame:
    """A site in the local equal-area projection, shared by every layer's measures."""

    site: Site
    tr: pyproj.Transformer
    local: BaseGeometry
    area_local: float
    length_local: float

    @classmethod
    def of(cls, site: Site) -> SiteFrame:
        tr = measure.local_transformer(*site.centroid)
        local = measure.project(site.geometry, tr)
        shapely.prepare(local)
        return cls(site, tr, local, float(local.area), float(local.length))

    def envelope(self, reach_m: float) -> BaseGeometry:
        minx, miny, maxx, maxy = self.site.geometry.bounds
        dlon, dlat = measure.degree_margin(max(abs(miny), abs(maxy)), reach_m)
        return shapely.box(minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def screen(
    site: Site,
    index: LayerIndex,
    buffers_m: Sequence[float] | None = DEFAULT_BUFFERS_M,
    search_m: float | None = None,
    layers: Iterable[str] | None = None,
) -> SpatialResult:
    """Screen one site against every loaded layer (or only ``layers``)."""
    bands, reach = check_buffers(buffers_m, search_m)
    with index.lock:
        if parse_crs(site.input_crs).is_lonlat:
            check_swapped(site.geometry, index.extent)
        return _screen(site, index, bands, reach, layers)


def _screen(
    site: Site,
    index: LayerIndex,
    bands: tuple[float, ...],
    reach: float,
    layers: Iterable[str] | None,
) -> SpatialResult:
    frame = SiteFrame.of(site)
    wanted = set(layers) if layers is not None else None
    hits: list[Hit] = []
    coverage: list[LayerCoverage] = []
    rivers: list[RiverDistance] = []
    for layer in index.vectors.values():
        if wanted is not None and layer.id not in wanted:
            continue
        cov = layer_coverage(frame, layer.id, layer.coverage)
        cov.kind = layer.kind  # the evaluator tells missing rule families by layer kind
        coverage.append(cov)
        if cov.covered_share == 0.0:
            continue
        hits.extend(layer_hits(frame, layer, bands, reach))
        if layer.kind in RIVER_KINDS:
            rivers.extend(river_distances(frame, layer, max(reach, RIVER_REACH_M)))
    rasters: list[RasterStats] = []
    for raster in index.rasters.values():
        if wanted is not None and raster.id not in wanted:
            continue
        cov = layer_coverage(frame, raster.id, raster.coverage)
        stats = zonal_stats(site, raster) if cov.covered_share != 0.0 else None
        if stats is None or stats.cells == 0:
            cov = LayerCoverage(layer=raster.id, status="no_data", covered_share=0.0)
        cov.kind = "raster"
        coverage.append(cov)
        if stats is not None:
            rasters.append(stats)
    versions = {lid: index.versions[lid] for lid in (c.layer for c in coverage)}
    return SpatialResult(
        hits=hits, coverage=coverage, rasters=rasters, rivers=rivers, versions=versions
    )


def bands_for(distance_m: NDArray[np.float64], bands: tuple[float, ...]) -> list[float | None]:
    """Smallest band that reaches each distance (None beyond the largest band)."""
    if not bands:
        return [None] * len(distance_m)
    arr = np.asarray(bands)
    pos = np.searchsorted(arr, distance_m, side="left")
    return [float(arr[p]) if p < len(arr) else None for p in pos]


def overlap_measures(
    site_type: str,
    site_area: float,
    site_length: float,
    area_local: NDArray[np.float64],
    length_local: NDArray[np.float64],
    feature_types: NDArray[np.int32],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(overlap_area_m2, overlap_ratio, length_inside_m, share) arrays; NaN where not meaningful.

    ``area_local`` / ``length_local``: area and length of site ∩ feature per feature (sums over
    the feature's pieces). Polygon site × polygon zone: overlap area and its share of the site.
    Polygon site × line feature: length of the feature inside the site. Line site × anything:
    length of the site inside the feature and its share of the site's length. Point sites:
    share 1.
    """
    n = len(area_local)
    nan = np.full(n, np.nan)
    area, ratio, length, share = nan.copy(), nan.copy(), nan.copy(), np.ones(n)
    poly_feat = np.isin(feature_types, _POLY_TYPES)
    line_feat = np.isin(feature_types, _LINE_TYPES)
    if site_type in ("Polygon", "MultiPolygon"):
        a = area_local
        r = np.clip(a / site_area, 0.0, 1.0) if site_area > 0 else np.zeros(n)
        area = np.where(poly_feat, np.minimum(a, site_area), np.nan)
        ratio = np.where(poly_feat, r, np.nan)
        length = np.where(line_feat, length_local, np.nan)
        share = np.where(poly_feat, r, 1.0)
    elif site_type in ("LineString", "MultiLineString"):
        ln = np.minimum(length_local, site_length)
        r = np.clip(ln / site_length, 0.0, 1.0) if site_length > 0 else np.zeros(n)
        length = ln
        ratio = np.where(poly_feat, r, np.nan)
        share = np.where(poly_feat, r, 1.0)
    return area, ratio, length, share


def _opt(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def layer_hits(
    frame: SiteFrame, layer: VectorLayer, bands: tuple[float, ...], reach: float
) -> list[Hit]:
    """Intersecting features (with overlap measures) and features within reach of one site.

    The work runs on the layer's pieces (``zoning.subdivide``); measures are summed per feature
    and distances are the minimum over its pieces.
    """
    site = frame.site
    r = 0.0 if layer.is_containment else reach
    env = frame.envelope(r)
    cand = layer.part_tree.query(env)
    if cand.size == 0:
        return []
    cand.sort()
    parts = layer.parts[cand]
    if site.geom_type == "Point":
        inter = shapely.intersects(parts, site.geometry)  # pieces are prepared
    else:
        inter = shapely.intersects(site.geometry, parts)  # the site is prepared
    hits: list[Hit] = []
    hit_parts = cand[inter]
    _, rows_i, group = group_pairs(np.zeros(len(hit_parts), np.intp), layer.part_row[hit_parts])
    if rows_i.size:
        pieces_local = measure.project(overlap_pieces(site.geometry, layer.parts[hit_parts]),
                                       frame.tr)
        a = _sum_by(group, shapely.area(pieces_local), len(rows_i))
        ln = _sum_by(group, shapely.length(pieces_local), len(rows_i))
        area, ratio, length, share = overlap_measures(
            site.geom_type, frame.area_local, frame.length_local, a, ln,
            layer.geom_types[rows_i],
        )
        relation = "contains_site" if layer.is_containment else "intersects"
        attrs = layer.attributes(rows_i)
        for k, row in enumerate(rows_i):
            hits.append(
                _hit(layer, int(row), relation, attrs[k], distance_m=0.0,
                     overlap_area_m2=_opt(area[k]), overlap_ratio=_opt(ratio[k]),
                     length_inside_m=_opt(length[k]),
                     share=float(share[k]) if layer.is_containment else None)
            )
    if layer.is_containment or r <= 0:
        return hits
    near = cand[~np.isin(layer.part_row[cand], rows_i)]
    if near.size:
        rows_n, dist = nearest_per_feature(
            layer.part_row[near], distances_to(frame, layer.dense(near))
        )
        keep = dist <= r
        rows_n, dist = rows_n[keep], dist[keep]
        order = np.argsort(dist, kind="stable")
        rows_n, dist = rows_n[order], dist[order]
        attrs = layer.attributes(rows_n)
        for k, (row, d, band) in enumerate(zip(rows_n, dist, bands_for(dist, bands), strict=True)):
            hits.append(
                _hit(layer, int(row), "within_buffer", attrs[k], distance_m=float(d), band_m=band)
            )
    return hits


def _sum_by(group: NDArray[np.intp], values: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    return np.asarray(np.bincount(group, values, minlength=n), dtype="float64")


def nearest_per_feature(
    rows: NDArray[np.intp], dist: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """(feature rows, smallest distance of each) from per-piece distances."""
    uniq, group = np.unique(rows, return_inverse=True)
    best = np.full(len(uniq), np.inf)
    np.minimum.at(best, group, dist)
    return uniq.astype(np.intp), best


def overlap_pieces(site_geom: BaseGeometry, feats: NDArray[np.object_]) -> NDArray[np.object_]:
    """site ∩ feature for each feature (or piece); see ``overlap_pieces_pairwise``."""
    return overlap_pieces_pairwise(np.full(len(feats), site_geom, dtype=object), feats)


def overlap_pieces_pairwise(
    sites: NDArray[np.object_], pieces: NDArray[np.object_]
) -> NDArray[np.object_]:
    """sites[i] ∩ pieces[i], skipping the overlay where one covers the other.

    A GEOS overlay costs 30–200 µs per pair (more for jagged outlines); the prepared ``covers``
    tests cost a few µs and settle the common cases: a small site inside a zone (the piece is
    the site) and a small piece inside a large site (the piece is the overlap).
    """
    out = sites.copy()
    rest = ~shapely.covers(pieces, sites)  # pieces are prepared
    if rest.any():
        idx = np.flatnonzero(rest)
        inside = shapely.covers(sites[idx], pieces[idx])
        out[idx[inside]] = pieces[idx[inside]]
        todo = idx[~inside]
        if todo.size:
            out[todo] = shapely.intersection(sites[todo], pieces[todo])
    return out


def distances_to(frame: SiteFrame, geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Shortest ellipsoidal distances from the site to ``geoms`` (``VectorLayer.dense``).

    Pieces have at most a few hundred vertices, so they are projected whole (no clipping to the
    reach envelope): the bulk path does the very same and gives the very same numbers.
    """
    out = np.full(len(geoms), np.inf)
    if len(geoms):
        local = measure.project(geoms, frame.tr, densify=False)
        out[:] = measure.distances_m(frame.local, local, frame.tr)
    return out


def river_distances(frame: SiteFrame, layer: VectorLayer, reach: float) -> list[RiverDistance]:
    """Nearest distance from the site to each river (grouped by name, level and basin)."""
    env = frame.envelope(reach)
    cand_parts = layer.part_tree.query(env)
    if cand_parts.size == 0:
        return []
    cand, dist = nearest_per_feature(
        layer.part_row[cand_parts], distances_to(frame, layer.dense(cand_parts))
    )
    keep = dist <= reach
    cand, dist = cand[keep], dist[keep]
    if cand.size == 0:
        return []
    level = layer.zone_class[cand]
    basin = layer.column("basin", cand)
    river = river_names(layer, cand)
    keys = np.array([f"{a}\x1f{b}\x1f{c}" for a, b, c in zip(river, level, basin, strict=True)])
    order = np.lexsort((cand, dist))
    _, first = np.unique(keys[order], return_index=True)
    nearest = order[np.sort(first)]
    return [
        RiverDistance.model_construct(
            layer=layer.id,
            river=str(river[k]),
            level=level[k],
            basin=None if basin[k] is None else str(basin[k]),
            distance_m=float(dist[k]),
            feature_id=str(layer.feature_id[cand[k]]),
        )
        for k in nearest
    ]


def river_names(layer: VectorLayer, rows: NDArray[np.intp]) -> NDArray[np.object_]:
    """River name per feature: the ``river`` attribute, else ``name``, else the feature id."""
    names = layer.column("river", rows)
    fallback = np.where(layer.name[rows] == None, layer.feature_id[rows], layer.name[rows])  # noqa: E711
    return np.where(names == None, fallback, names).astype(object)  # noqa: E711


def _hit(
    layer: VectorLayer,
    row: int,
    relation: str,
    attributes: dict[str, object],
    *,
    distance_m: float,
    overlap_area_m2: float | None = None,
    overlap_ratio: float | None = None,
    length_inside_m: float | None = None,
    band_m: float | None = None,
    share: float | None = None,
) -> Hit:
    # model_construct: every value is built here with the right type; skipping validation
    # saves ~10 µs per hit, which matters at dozens of hits per request
    return Hit.model_construct(
        layer=layer.id,
        layer_kind=layer.kind,
        feature_id=str(layer.feature_id[row]),
        name=layer.name[row],
        zone_class=layer.zone_class[row],
        relation=relation,  # type: ignore[arg-type]
        overlap_area_m2=overlap_area_m2,
        overlap_ratio=overlap_ratio,
        length_inside_m=length_inside_m,
        distance_m=distance_m,
        band_m=band_m,
        share=share,
        accuracy=str(layer.accuracy[row]),
        attributes=attributes,
    )


def screen_many(
    sites: object,
    index: LayerIndex,
    buffers_m: Sequence[float] | None = DEFAULT_BUFFERS_M,
    search_m: float | None = None,
    layers: Iterable[str] | None = None,
    *,
    chunk_size: int = 100_000,
) -> object:
    """Bulk screening of a GeoDataFrame of sites; see ``zoning.bulk.screen_many``."""
    from zoning.bulk import screen_many as bulk_screen_many

    return bulk_screen_many(
        sites, index, buffers_m, search_m, layers, chunk_size=chunk_size  # type: ignore[arg-type]
    )
