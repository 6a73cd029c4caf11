"""GCJ-02 / BD-09 against published reference pairs, and the iterative inverses."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning import gcj02

GEOD = pyproj.Geod(ellps="WGS84")

# Reference pairs published in the README of wandergis/coordtransform (the widely used JS
# implementation; https://github.com/wandergis/coordtransform README.md, "result" block),
# all for the input (116.404, 39.915), near Tiananmen, Beijing.
PAIR_INPUT = (116.404, 39.915)
WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
BD09_TO_GCJ02_ONE_STEP = (116.39762729119315, 39.90865673957631)
GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def test_forward_gcj02_matches_published_pair() -> None:
    lon, lat = gcj02.wgs84_to_gcj02(*PAIR_INPUT)
    assert (float(lon), float(lat)) == pytest.approx(WGS84_TO_GCJ02, abs=1e-11)


def test_forward_bd09_matches_published_pair() -> None:
    lon, lat = gcj02.gcj02_to_bd09(*PAIR_INPUT)
    assert (float(lon), float(lat)) == pytest.approx(GCJ02_TO_BD09, abs=1e-11)


def test_inverses_agree_with_published_one_step_values_to_metres() -> None:
    # The published inverses are one-step approximations (metre-level); ours iterate, so they
    # agree with them to a few metres and with the forward formula to far below a millimetre.
    wgs = gcj02.gcj02_to_wgs84(*PAIR_INPUT)
    assert _metres((float(wgs[0]), float(wgs[1])), GCJ02_TO_WGS84_ONE_STEP) < 5.0
    gcj = gcj02.bd09_to_gcj02(*PAIR_INPUT)
    assert _metres((float(gcj[0]), float(gcj[1])), BD09_TO_GCJ02_ONE_STEP) < 1.0


def test_beijing_railway_station_pair() -> None:
    # GCJ-02 (39.90245, 116.42703) ↔ BD-09 (39.90851, 116.43351): the example in the roxygen
    # documentation of bd2gcj (R package; 5 decimals published, so compare to ~1 m).
    lon, lat = gcj02.gcj02_to_bd09(116.42703, 39.90245)
    assert _metres((float(lon), float(lat)), (116.43351, 39.90851)) < 1.5


def test_outside_china_unchanged() -> None:
    lon, lat = gcj02.wgs84_to_gcj02(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


def test_offset_size_is_hundreds_of_metres() -> None:
    lon, lat = gcj02.wgs84_to_gcj02(101.78, 36.62)
    assert 100 < _metres((101.78, 36.62), (float(lon), float(lat))) < 1000


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=73.6, max_value=134.7),
    st.floats(min_value=18.2, max_value=53.5),
)
def test_round_trips_are_sub_millimetre(lon: float, lat: float) -> None:
    wgs = gcj02.gcj02_to_wgs84(*gcj02.wgs84_to_gcj02(lon, lat))
    assert _metres((lon, lat), (float(wgs[0]), float(wgs[1]))) < 1e-3
    back = gcj02.bd09_to_wgs84(*gcj02.wgs84_to_bd09(lon, lat))
    assert _metres((lon, lat), (float(back[0]), float(back[1]))) < 1e-3


def test_vectorised() -> None:
    lons = np.linspace(100, 110, 1000)
    lats = np.linspace(25, 37, 1000)
    x, y = gcj02.gcj02_to_wgs84(*gcj02.wgs84_to_gcj02(lons, lats))
    assert np.abs(x - lons).max() < 1e-8 and np.abs(y - lats).max() < 1e-8
