"""Selecting features for an OGC items request: bbox, datetime, property filters, paging.

Why separate from the router: the selection is plain GeoPandas work (one STRtree query, boolean
masks) that is tested without HTTP, and the router only turns parameters into a ``Selection``.

Datetime semantics (documented in the collection description and /docs): a feature's validity is
``[valid_from, valid_to]`` from its own ``valid_from``/``valid_to`` columns when the layer has
them, else from the catalog entry's ``valid_from`` (or, failing that, ``as_of``: the data describe
the state from that date on) and ``valid_to``; open ends are unbounded. A ``datetime`` instant or
interval selects the features whose validity overlaps it. A layer with none of these dates has no
temporal extent and ``datetime`` does not filter it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from app.errors import InvalidParameterError
from app.ogc.crs import OutputCRS, bbox_to_storage
from layers.catalog import CatalogEntry

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

#: Columns that can be used as ``?column=value`` filters when present (plus other text columns).
STANDARD_QUERYABLES = ("feature_id", "name", "zone_class", "code", "accuracy", "derivation")


@dataclass(frozen=True)
class Selection:
    """The rows matched by a query (positions into the layer frame) and the page of them."""

    matched: int
    rows: np.ndarray  # positional indices of the page, in layer order


def parse_bbox(text: str, field: str = "bbox") -> tuple[float, ...]:
    """``minx,miny,maxx,maxy`` (or 6 numbers with heights) → floats; errors name the field."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise InvalidParameterError(
            f"{field}: '{text}' is not a list of numbers",
            field=field,
            hint="send 4 numbers: minx,miny,maxx,maxy (in bbox-crs axis order)",
        ) from exc
    if len(values) not in (4, 6) or not all(np.isfinite(values)):
        raise InvalidParameterError(
            f"{field}: expected 4 or 6 finite numbers, got {len(values)}",
            field=field,
            hint="send minx,miny,maxx,maxy",
        )
    return values


def _parse_instant(text: str, field: str) -> date | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if "T" in text or " " in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidParameterError(
            f"{field}: '{text}' is not an RFC 3339 date or date-time",
            field=field,
            hint="send e.g. 2024-06-01, 2024-06-01T00:00:00Z or an interval 2020-01-01/..",
        ) from exc


def parse_datetime(text: str, field: str = "datetime") -> tuple[date | None, date | None]:
    """An instant or ``start/end`` interval (``..`` or empty = open) → (start, end) dates."""
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        start, end = _parse_instant(start_text, field), _parse_instant(end_text, field)
        if start and end and start > end:
            raise InvalidParameterError(
                f"{field}: interval start {start} is after its end {end}",
                field=field,
                hint="put the earlier date first",
            )
        return start, end
    instant = _parse_instant(text, field)
    if instant is None:
        raise InvalidParameterError(
            f"{field}: empty", field=field, hint="send a date or an interval start/end"
        )
    return instant, instant


def layer_interval(entry: CatalogEntry) -> tuple[date | None, date | None]:
    """The catalog-level validity of a layer (see module docstring)."""
    return entry.valid_from or entry.as_of, entry.valid_to


def _as_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.normalize()


def datetime_mask(
    gdf: gpd.GeoDataFrame, entry: CatalogEntry, start: date | None, end: date | None
) -> np.ndarray:
    """Boolean mask of features whose validity overlaps [start, end]."""
    n = len(gdf)
    if "valid_from" in gdf.columns or "valid_to" in gdf.columns:
        lo = (
            _as_dates(gdf["valid_from"])
            if "valid_from" in gdf.columns
            else pd.Series(pd.NaT, index=gdf.index)
        )
        hi = (
            _as_dates(gdf["valid_to"])
            if "valid_to" in gdf.columns
            else pd.Series(pd.NaT, index=gdf.index)
        )
        ok = np.ones(n, dtype=bool)
        if end is not None:
            ok &= (lo.isna() | (lo <= pd.Timestamp(end))).to_numpy()
        if start is not None:
            ok &= (hi.isna() | (hi >= pd.Timestamp(start))).to_numpy()
        return ok
    lo_d, hi_d = layer_interval(entry)
    overlaps = not (
        (end is not None and lo_d is not None and lo_d > end)
        or (start is not None and hi_d is not None and hi_d < start)
    )
    return np.full(n, overlaps, dtype=bool)


def queryables(gdf: gpd.GeoDataFrame) -> list[str]:
    """Columns usable as equality filters: the standard ones present, then other text columns."""
    geom = gdf.geometry.name
    out = [c for c in STANDARD_QUERYABLES if c in gdf.columns]
    for col in gdf.columns:
        if col in out or col == geom:
            continue
        dtype = gdf[col].dtype
        if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            out.append(col)
    return out


def select(
    gdf: gpd.GeoDataFrame,
    entry: CatalogEntry,
    *,
    bbox: tuple[float, ...] | None = None,
    bbox_crs: OutputCRS | None = None,
    interval: tuple[date | None, date | None] | None = None,
    properties: dict[str, str] | None = None,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> Selection:
    """Apply every filter, then page; returns the matched count and the page's row positions."""
    mask = np.ones(len(gdf), dtype=bool)
    if bbox is not None:
        if bbox_crs is not None:
            box_ll = bbox_to_storage(bbox, bbox_crs)
        else:
            box_ll = (
                (bbox[0], bbox[1], bbox[3], bbox[4])
                if len(bbox) == 6
                else (bbox[0], bbox[1], bbox[2], bbox[3])
            )
        box = shapely.box(*box_ll)
        hits = gdf.sindex.query(box, predicate="intersects")
        in_box = np.zeros(len(gdf), dtype=bool)
        in_box[hits] = True
        mask &= in_box
    if interval is not None:
        mask &= datetime_mask(gdf, entry, *interval)
    for col, value in (properties or {}).items():
        mask &= (gdf[col].astype("string") == value).fillna(False).to_numpy(dtype=bool)
    matched_rows = np.flatnonzero(mask)
    page = matched_rows[offset : offset + limit]
    return Selection(matched=int(matched_rows.size), rows=page)
