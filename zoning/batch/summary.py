"""Per-site summary columns from bulk hits: counts, overlap areas and nearest distance per kind.

Why fixed columns per layer kind (not per hit): a results table needs the same columns on every
row and in every chunk; the kinds come from the loaded catalog, so a chunk without any hit still
has every column (zeros and blanks), and the parts of a long run line up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

INSIDE = ("intersects", "contains_site")


def summary_columns(kinds: Sequence[str]) -> list[str]:
    cols: list[str] = []
    for kind in kinds:
        cols += [f"{kind}_count", f"{kind}_overlap_m2", f"{kind}_nearest_m"]
    return cols


def summarise_hits(hits: pd.DataFrame, site_index: pd.Index, kinds: Sequence[str]) -> pd.DataFrame:
    """One row per site: ``<kind>_count`` (features intersecting), ``<kind>_overlap_m2`` (summed
    overlap area, polygon sites) and ``<kind>_nearest_m`` (0 when intersecting, else the shortest
    distance within reach, blank when nothing of that kind is within reach)."""
    out = pd.DataFrame(index=site_index)
    if len(hits):
        inside = hits["relation"].isin(INSIDE)
        grouped = hits.assign(_inside=inside.astype(np.int64),
                              _area=hits["overlap_area_m2"].where(inside).fillna(0.0))
        agg = grouped.groupby(["site_index", "layer_kind"]).agg(
            count=("_inside", "sum"), overlap=("_area", "sum"), nearest=("distance_m", "min"))
    else:
        agg = pd.DataFrame(columns=["count", "overlap", "nearest"],
                           index=pd.MultiIndex.from_arrays([[], []], names=["site_index", "layer_kind"]))
    for kind in kinds:
        sub = agg.xs(kind, level="layer_kind") if kind in agg.index.get_level_values("layer_kind") else None
        if sub is None:
            out[f"{kind}_count"] = np.zeros(len(site_index), dtype=np.int64)
            out[f"{kind}_overlap_m2"] = 0.0
            out[f"{kind}_nearest_m"] = np.nan
            continue
        out[f"{kind}_count"] = sub["count"].reindex(site_index).fillna(0).astype(np.int64).to_numpy()
        out[f"{kind}_overlap_m2"] = sub["overlap"].reindex(site_index).fillna(0.0).to_numpy(dtype=float)
        out[f"{kind}_nearest_m"] = sub["nearest"].reindex(site_index).to_numpy(dtype=float)
    return out
