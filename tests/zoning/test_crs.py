"""CRS parsing and detection of common coordinate mistakes."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from zoning.crs import cgcs2000_gk_code, check_coordinates, parse_crs, to_storage_xy
from zoning.errors import CoordinateMistakeError, CRSError


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        (None, "EPSG:4326", "geographic"),
        ("EPSG:4326", "EPSG:4326", "geographic"),
        ("epsg:4490", "EPSG:4490", "geographic"),
        ("4490", "EPSG:4490", "geographic"),
        (4526, "EPSG:4526", "projected"),
        ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490", "geographic"),
        ("WGS84", "EPSG:4326", "geographic"),
        ("CGCS2000", "EPSG:4490", "geographic"),
        ("gcj-02", "GCJ02", "gcj02"),
        ("BD09", "BD09", "bd09"),
        ("EPSG:2383", "EPSG:2383", "projected"),  # Xian 1980 / 3-degree GK CM 114E
        ("EPSG:32647", "EPSG:32647", "projected"),  # UTM 47N
    ],
)
def test_accepted_forms(text: str | None, name: str, kind: str) -> None:
    icrs = parse_crs(text)
    assert icrs.name == name and icrs.kind == kind


@pytest.mark.parametrize("text", ["foo", "EPSG:999999", "GCJ03", "EPSG:4978"])
def test_unknown_crs_lists_accepted_forms(text: str) -> None:
    with pytest.raises(CRSError) as err:
        parse_crs(text)
    assert err.value.field == "crs"
    assert "GCJ02" in (err.value.hint or "") and "EPSG:4534-4554" in (err.value.hint or "")


def test_cgcs2000_gk_code_table_matches_proj() -> None:
    """Our zone/CM → code arithmetic agrees with PROJ's own names and parameters."""
    for zone in range(13, 24):
        crs = pyproj.CRS.from_epsg(cgcs2000_gk_code(6, zone=zone))
        assert crs.name == f"CGCS2000 / Gauss-Kruger zone {zone}"
    for cm in range(75, 136, 6):
        assert pyproj.CRS.from_epsg(cgcs2000_gk_code(6, cm=cm)).name == (
            f"CGCS2000 / Gauss-Kruger CM {cm}E"
        )
    for zone in range(25, 46):
        icrs = parse_crs(cgcs2000_gk_code(3, zone=zone))
        assert icrs.gk is not None and icrs.gk.zone == zone and icrs.gk.central_meridian == 3 * zone
    for cm in range(75, 136, 3):
        icrs = parse_crs(cgcs2000_gk_code(3, cm=cm))
        assert icrs.gk is not None and icrs.gk.zone is None and icrs.gk.central_meridian == cm
        assert icrs.gk.zone_width == 3


def test_geographic_codes_are_lon_lat_whatever_the_epsg_axis_order() -> None:
    # EPSG:4490 and 4326 are lat/lon in the EPSG database; inputs are lon/lat as in GeoJSON.
    x, y = to_storage_xy(np.array([101.78]), np.array([36.62]), parse_crs("EPSG:4326"))
    assert (x[0], y[0]) == (101.78, 36.62)
    x, y = to_storage_xy(np.array([101.78]), np.array([36.62]), parse_crs("EPSG:4610"))
    assert abs(x[0] - 101.78) < 0.01 and abs(y[0] - 36.62) < 0.01


def test_gauss_kruger_prefixed_and_cm_codes_agree() -> None:
    # zone 34 (3°) has CM 102E: 34 500000 prefixed == 500000 with the CM code
    a = to_storage_xy(np.array([34_500_000.0]), np.array([4_000_000.0]), parse_crs("EPSG:4522"))
    b = to_storage_xy(np.array([500_000.0]), np.array([4_000_000.0]), parse_crs("EPSG:4543"))
    assert a[0][0] == pytest.approx(102.0) and a[0][0] == pytest.approx(b[0][0])
    assert a[1][0] == pytest.approx(b[1][0])


def _check(x: float, y: float, crs: str) -> None:
    check_coordinates(np.array([x]), np.array([y]), parse_crs(crs), "geometry.coordinates")


@pytest.mark.parametrize(
    ("x", "y", "crs", "message", "hint"),
    [
        (36.6, 101.7, "EPSG:4326", "swapped", "[longitude, latitude]"),
        (34_500_000.0, 4_000_000.0, "EPSG:4326", "metres", "EPSG:4522"),
        (500_000.0, 4_000_000.0, "EPSG:4490", "metres", "EPSG:4534-4554"),
        (500_000.0, 4_000_000.0, "EPSG:4522", "no zone prefix", "EPSG:4543"),
        (33_500_000.0, 4_000_000.0, "EPSG:4522", "prefix [33]", "EPSG:4521"),
        (34_500_000.0, 4_000_000.0, "EPSG:4543", "carry a zone prefix", "EPSG:4522"),
        (4_000_000.0, 34_500_000.0, "EPSG:4522", "swapped", "easting, northing"),
        (4_000_000.0, 500_000.0, "EPSG:4543", "swapped", "easting, northing"),
        (102.0, 36.0, "EPSG:4543", "look like degrees", "EPSG:4490"),
        (102.0, 36.0, "EPSG:32647", "look like degrees", "EPSG:4326"),
    ],
)
def test_mistakes_are_named(x: float, y: float, crs: str, message: str, hint: str) -> None:
    with pytest.raises(CoordinateMistakeError) as err:
        _check(x, y, crs)
    assert message in err.value.detail
    assert hint in (err.value.hint or "")
    assert err.value.field


def test_plain_out_of_range_is_a_crs_error() -> None:
    with pytest.raises(CRSError, match="outside longitude"):
        _check(200.0, 95.0, "EPSG:4326")


def test_good_inputs_pass() -> None:
    _check(101.7, 36.6, "EPSG:4326")
    _check(34_480_000.0, 4_050_000.0, "EPSG:4522")
    _check(480_000.0, 4_050_000.0, "EPSG:4543")
