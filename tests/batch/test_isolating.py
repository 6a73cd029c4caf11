"""A chunk the screener fails on is re-screened row by row: one bad row is marked, a broken
screener is reported instead of turning every row into an error."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from zoning.batch.chunk import ScreenerBrokenError, _screen_isolating


class _Screener:
    version = "test"
    known_project_types = None

    def __init__(self, poison: set[int] | None = None) -> None:
        self.poison = poison  # None: fail on everything

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self.poison is None or self.poison & set(sites.index):
            raise ValueError("cannot screen this")
        summary = pd.DataFrame({"verdict": ["clear"] * len(sites)}, index=sites.index)
        return summary, pd.DataFrame({"site_index": []})


def _sites(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.Point(101 + i / 100, 36) for i in range(n)],
                            crs=4490)


def test_one_bad_row_is_marked_and_the_others_screened() -> None:
    summary, _, failures = _screen_isolating(_Screener(poison={3}), _sites(20))
    assert list(failures.index) == [3]
    assert failures[3].startswith("screening failed: ValueError")
    assert len(summary) == 19


def test_a_screener_that_fails_on_every_row_is_reported() -> None:
    with pytest.raises(ScreenerBrokenError, match="bug, not bad input"):
        _screen_isolating(_Screener(), _sites(20))


def test_tiny_chunks_keep_per_row_errors() -> None:
    _, _, failures = _screen_isolating(_Screener(), _sites(2))
    assert len(failures) == 2
