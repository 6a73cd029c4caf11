"""Compare two engines' answers: the same (site, layer, feature) pairs, and measures within 0.1 %.

Why a tolerance at all: every engine measures on the ellipsoid, but by different routes
(geodesic polygon area, an equal-area projection, spheroidal geography), which agree to far
better than 0.1 % on real overlaps; a sliver of a few square decimetres can still differ by more
than 0.1 % of itself, so differences under ``abs_floor`` (m² or m) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

KEY = ["site", "layer", "feature_id"]


@dataclass
class Comparison:
    """Outcome of comparing ``other`` against ``reference`` for one workload."""

    pairs_reference: int
    pairs_other: int
    missing: int  # in the reference, not in the other
    extra: int  # in the other, not in the reference
    measure_mismatches: int
    max_rel_diff: float
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.measure_mismatches == 0

    def summary(self) -> str:
        if self.ok:
            return f"equal ({self.pairs_reference} pairs, max rel. diff {self.max_rel_diff:.1e})"
        return (
            f"{self.missing} missing, {self.extra} extra, {self.measure_mismatches} measure "
            f"mismatches of {self.pairs_reference} pairs (max rel. diff {self.max_rel_diff:.1e})"
        )


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per pair; an engine that reports a pair in pieces gets its measures summed."""
    return frame.groupby(KEY, as_index=False, sort=False)[["area_m2", "length_m"]].sum(min_count=1)


def compare(
    reference: pd.DataFrame,
    other: pd.DataFrame,
    rel_tol: float = 1e-3,
    abs_floor: float = 0.01,
) -> Comparison:
    ref, oth = _dedupe(reference), _dedupe(other)
    merged = ref.merge(oth, on=KEY, how="outer", suffixes=("_ref", "_oth"), indicator=True)
    missing = merged["_merge"] == "left_only"
    extra = merged["_merge"] == "right_only"
    both = merged[merged["_merge"] == "both"]
    bad = np.zeros(len(both), dtype=bool)
    max_rel = 0.0
    for measure in ("area_m2", "length_m"):
        a = both[f"{measure}_ref"].to_numpy(dtype=float)
        b = both[f"{measure}_oth"].to_numpy(dtype=float)
        have = ~np.isnan(a) | ~np.isnan(b)
        a0, b0 = np.nan_to_num(a), np.nan_to_num(b)
        diff = np.abs(a0 - b0)
        scale = np.maximum(np.abs(a0), np.abs(b0))
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        wrong = have & (rel > rel_tol) & (diff > abs_floor)
        bad |= wrong
        significant = have & (diff > abs_floor)
        if significant.any():
            max_rel = max(max_rel, float(rel[significant].max()))
    examples = [
        f"missing {tuple(r)}" for r in merged.loc[missing, KEY].head(3).itertuples(index=False)
    ] + [f"extra {tuple(r)}" for r in merged.loc[extra, KEY].head(3).itertuples(index=False)]
    for row in both[bad].head(3).itertuples(index=False):
        examples.append(
            f"measure {(row.site, row.layer, row.feature_id)}: "
            f"area {row.area_m2_ref} vs {row.area_m2_oth}, length {row.length_m_ref} vs {row.length_m_oth}"
        )
    return Comparison(
        pairs_reference=len(ref),
        pairs_other=len(oth),
        missing=int(missing.sum()),
        extra=int(extra.sum()),
        measure_mismatches=int(bad.sum()),
        max_rel_diff=max_rel,
        examples=examples,
    )
