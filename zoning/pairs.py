"""(site, feature) pairs from (site, piece) pairs: the bookkeeping of screening on pieces."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def group_pairs(
    site_rows: NDArray[np.intp], feature_rows: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Distinct (site, feature) pairs of per-piece pairs: (sites, features, group per input).

    Pairs come out sorted by site, then feature; ``group`` maps every input pair to its
    output pair, for ``np.bincount``-style sums or ``np.minimum.at`` minima.
    """
    if len(site_rows) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    width = int(feature_rows.max()) + 1
    codes = site_rows.astype(np.int64) * width + feature_rows
    uniq, group = np.unique(codes, return_inverse=True)
    return (uniq // width).astype(np.intp), (uniq % width).astype(np.intp), group.astype(np.intp)
