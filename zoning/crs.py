"""Input coordinate systems: parsing, conversion to EPSG:4490 and detection of common mistakes.

Why one module: every entry point (HTTP, CLI, batch) takes a ``crs`` string next to raw
coordinates; a wrong guess silently moves a site by hundreds of kilometres. So we accept the
forms people in China actually use, convert with PROJ (always lon/lat order, as GeoJSON
requires, whatever the EPSG axis order says), and when the numbers do not fit the declared CRS we
stop and say what the mistake probably is instead of guessing.

Accepted forms (case-insensitive): ``EPSG:<code>`` / ``<code>`` / ``urn:ogc:def:crs:EPSG::<code>``
for any code PROJ knows (geographic or projected, 2-D), the aliases ``WGS84``, ``CRS84``,
``CGCS2000``, the web-map offsets ``GCJ02`` (Amap, Tencent) and ``BD09`` (Baidu), and WKT / PROJ
strings. See docs/crs.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

from zoning import gcj02
from zoning.errors import CoordinateMistakeError, CRSError

STORAGE_EPSG = 4490

ACCEPTED_FORMS = (
    "EPSG:4326 (WGS84, lon/lat), EPSG:4490 (CGCS2000, lon/lat), CGCS2000 Gauss-Krüger "
    "EPSG:4491-4501 (6°, zone-prefixed easting), EPSG:4502-4512 (6°, by central meridian), "
    "EPSG:4513-4533 (3°, zone-prefixed), EPSG:4534-4554 (3°, by central meridian), any other "
    "EPSG:<code> PROJ knows, GCJ02 (Amap/Tencent), BD09 (Baidu), or a WKT/PROJ string"
)

_ALIASES: dict[str, str] = {
    "WGS84": "EPSG:4326",
    "WGS 84": "EPSG:4326",
    "WGS-84": "EPSG:4326",
    "CRS84": "EPSG:4326",
    "OGC:CRS84": "EPSG:4326",
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84": "EPSG:4326",
    "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84": "EPSG:4326",
    "CGCS2000": "EPSG:4490",
    "GCJ02": "GCJ02",
    "GCJ-02": "GCJ02",
    "GCJ": "GCJ02",
    "AMAP": "GCJ02",
    "BD09": "BD09",
    "BD-09": "BD09",
    "BD09LL": "BD09",
    "BAIDU": "BD09",
}
_EPSG_PATTERNS = (
    re.compile(r"^EPSG:+(\d+)$"),
    re.compile(r"^URN:OGC:DEF:CRS:EPSG:[\d.]*:(\d+)$"),
    re.compile(r"^HTTPS?://WWW\.OPENGIS\.NET/DEF/CRS/EPSG/[\d.]+/(\d+)$"),
    re.compile(r"^(\d+)$"),
)

CRSKind = Literal["geographic", "projected", "gcj02", "bd09"]


@dataclass(frozen=True)
class GaussKruger:
    """Transverse Mercator parameters that let us check eastings against the declared zone."""

    central_meridian: float
    false_easting: float
    zone: int | None  # the prefix carried in the easting, None when not prefixed
    zone_width: int | None  # 3 or 6 when known from the CRS name


@dataclass(frozen=True)
class InputCRS:
    """A parsed input CRS: what to call it in results and how to convert from it."""

    name: str
    kind: CRSKind
    crs: pyproj.CRS | None = None
    gk: GaussKruger | None = None

    @property
    def is_lonlat(self) -> bool:
        return self.kind != "projected"


# --- CGCS2000 Gauss–Krüger code families (EPSG), checked against PROJ's names in tests -----------

def cgcs2000_gk_code(zone_width: int, *, zone: int | None = None, cm: float | None = None) -> int:
    """EPSG code of a CGCS2000 Gauss–Krüger CRS, by prefixed zone number or by central meridian.

    >>> cgcs2000_gk_code(3, zone=38), cgcs2000_gk_code(3, cm=114), cgcs2000_gk_code(6, zone=19)
    (4526, 4545, 4497)
    """
    if zone_width == 6:
        if zone is not None and 13 <= zone <= 23:
            return 4491 + zone - 13
        if cm is not None and 75 <= cm <= 135 and (cm - 75) % 6 == 0:
            return 4502 + int(cm - 75) // 6
    elif zone_width == 3:
        if zone is not None and 25 <= zone <= 45:
            return 4513 + zone - 25
        if cm is not None and 75 <= cm <= 135 and (cm - 75) % 3 == 0:
            return 4534 + int(cm - 75) // 3
    raise ValueError(f"no CGCS2000 {zone_width}° Gauss-Krüger code for zone={zone} cm={cm}")


def _zone_code_from_prefix(prefix: int) -> int | None:
    """The CGCS2000 code whose easting prefix is ``prefix`` (6° zones 13–23, 3° zones 25–45)."""
    if 13 <= prefix <= 23:
        return cgcs2000_gk_code(6, zone=prefix)
    if 25 <= prefix <= 45:
        return cgcs2000_gk_code(3, zone=prefix)
    return None


def _gauss_kruger(crs: pyproj.CRS) -> GaussKruger | None:
    op = crs.coordinate_operation
    if op is None or "Transverse Mercator" not in (op.method_name or ""):
        return None
    params = {p.name: p.value for p in op.params}
    cm = params.get("Longitude of natural origin")
    fe = params.get("False easting")
    if not isinstance(cm, int | float) or not isinstance(fe, int | float):
        return None
    zone = round((fe - 500000.0) / 1e6) if fe >= 1e6 else None
    width: int | None = None
    if "3-degree" in crs.name:
        width = 3
    elif "Gauss-Kruger" in crs.name or "GK" in crs.name:
        width = 6
    return GaussKruger(float(cm), float(fe), zone, width)


@lru_cache(maxsize=256)
def parse_crs(value: str | int | None) -> InputCRS:
    """Parse a user's CRS string; unknown values raise ``CRSError`` listing the accepted forms."""
    if value is None or (isinstance(value, str) and not value.strip()):
        value = "EPSG:4326"
    text = str(value).strip()
    upper = _ALIASES.get(text.upper(), text.upper())
    if upper == "GCJ02":
        return InputCRS("GCJ02", "gcj02")
    if upper == "BD09":
        return InputCRS("BD09", "bd09")
    code: int | None = None
    for pattern in _EPSG_PATTERNS:
        match = pattern.match(upper)
        if match:
            code = int(match.group(1))
            break
    try:
        crs = pyproj.CRS.from_epsg(code) if code is not None else pyproj.CRS.from_user_input(text)
    except (PyprojCRSError, ValueError, TypeError) as exc:
        raise CRSError(
            f"unknown CRS {text!r}",
            field="crs",
            hint=f"use one of: {ACCEPTED_FORMS}",
        ) from exc
    if crs.is_compound or crs.is_geocentric or not (crs.is_geographic or crs.is_projected):
        raise CRSError(
            f"CRS {text!r} ({crs.name}) is not a 2-D geographic or projected CRS",
            field="crs",
            hint=f"use one of: {ACCEPTED_FORMS}",
        )
    epsg = code if code is not None else crs.to_epsg(min_confidence=90)
    name = f"EPSG:{epsg}" if epsg else crs.name
    if crs.is_geographic:
        return InputCRS(name, "geographic", crs)
    return InputCRS(name, "projected", crs, _gauss_kruger(crs))


@lru_cache(maxsize=256)
def _to_storage(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, f"EPSG:{STORAGE_EPSG}", always_xy=True)


def _is_storage_equivalent(icrs: InputCRS) -> bool:
    # WGS84 and CGCS2000 agree to a few cm (docs/crs.md); PROJ itself uses a null transform.
    return icrs.kind == "geographic" and icrs.name in ("EPSG:4326", "EPSG:4490")


def to_storage_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], icrs: InputCRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert coordinate arrays from ``icrs`` to EPSG:4490 lon/lat (vectorised)."""
    if _is_storage_equivalent(icrs):
        return x, y
    if icrs.kind == "gcj02":
        return gcj02.gcj02_to_wgs84(x, y)
    if icrs.kind == "bd09":
        return gcj02.bd09_to_wgs84(x, y)
    assert icrs.crs is not None
    lon, lat = _to_storage(icrs.crs).transform(x, y)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def to_storage(geom: BaseGeometry, icrs: InputCRS) -> BaseGeometry:
    """Reproject a shapely geometry given in ``icrs`` to EPSG:4490 lon/lat."""
    if _is_storage_equivalent(icrs):
        return geom
    return shapely.transform(geom, lambda xy: np.column_stack(to_storage_xy(xy[:, 0], xy[:, 1], icrs)))


def from_storage_xy(
    lon: NDArray[np.float64], lat: NDArray[np.float64], icrs: InputCRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """EPSG:4490 lon/lat → ``icrs`` (used by tests and for writing results back)."""
    if _is_storage_equivalent(icrs):
        return lon, lat
    if icrs.kind == "gcj02":
        return gcj02.wgs84_to_gcj02(lon, lat)
    if icrs.kind == "bd09":
        return gcj02.wgs84_to_bd09(lon, lat)
    assert icrs.crs is not None
    x, y = _to_storage(icrs.crs).transform(lon, lat, direction="INVERSE")
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


# --- mistake detection ---------------------------------------------------------------------------

def _gk_guess_hint(x: NDArray[np.float64]) -> str:
    prefixes = np.unique((x // 1e6).astype("int64"))
    if prefixes.size == 1 and (code := _zone_code_from_prefix(int(prefixes[0]))) is not None:
        return (
            f"the eastings carry zone prefix {int(prefixes[0])}: declare crs \"EPSG:{code}\" "
            "(CGCS2000 Gauss-Krüger)"
        )
    return (
        "these look like projected metres: declare their CRS, e.g. a CGCS2000 Gauss-Krüger code "
        "(EPSG:4534-4554 for 3° zones by central meridian, EPSG:4513-4533 with the zone prefix)"
    )


def check_coordinates(
    x: NDArray[np.float64], y: NDArray[np.float64], icrs: InputCRS, field: str = "geometry"
) -> None:
    """Raise if raw input coordinates do not fit ``icrs``; say which mistake it probably is.

    Checks: lon/lat outside their ranges (swapped, or metres sent as degrees); degrees sent to a
    projected CRS; a Gauss–Krüger easting whose zone prefix is missing, extra or for another
    zone; Gauss–Krüger X (northing) and Y (easting) swapped, as Chinese survey tables write them.
    """
    if x.size == 0:
        return
    if icrs.is_lonlat:
        _check_lonlat(x, y, icrs, field)
    elif icrs.gk is not None:
        _check_gauss_kruger(x, y, icrs, icrs.gk, field)
    elif np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90) and icrs.crs is not None:
        unit = icrs.crs.axis_info[0].unit_name if icrs.crs.axis_info else "metre"
        if unit in ("metre", "meter", "US survey foot", "foot"):
            raise CoordinateMistakeError(
                f"coordinates look like degrees but crs {icrs.name} is projected ({unit})",
                field="crs",
                hint='declare crs "EPSG:4326" (or "EPSG:4490") for longitude/latitude',
            )


def _check_lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64], icrs: InputCRS, field: str
) -> None:
    bad_lon = np.abs(x) > 180
    bad_lat = np.abs(y) > 90
    if not (bad_lon.any() or bad_lat.any()):
        return
    if np.all(np.abs(x) > 1000) and np.all(np.abs(y) > 1000):
        raise CoordinateMistakeError(
            f"coordinates such as ({x[0]:.3f}, {y[0]:.3f}) are metres, not degrees, but crs is "
            f"{icrs.name}",
            field="crs",
            hint=_gk_guess_hint(x),
        )
    if np.all(np.abs(x) <= 90) and np.all(np.abs(y) <= 180):
        raise CoordinateMistakeError(
            f"latitude {y[bad_lat][0] if bad_lat.any() else y[0]:g} is out of range: latitude "
            "and longitude appear swapped",
            field=field,
            hint="give coordinates as [longitude, latitude] (GeoJSON order), e.g. [101.78, 36.62]",
        )
    first = int(np.flatnonzero(bad_lon | bad_lat)[0])
    raise CRSError(
        f"coordinate ({x[first]:g}, {y[first]:g}) is outside longitude [-180, 180] / "
        f"latitude [-90, 90] for crs {icrs.name}",
        field=field,
        hint="check the numbers and the declared crs",
    )


def _check_gauss_kruger(
    x: NDArray[np.float64], y: NDArray[np.float64], icrs: InputCRS, gk: GaussKruger, field: str
) -> None:
    if np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90):
        raise CoordinateMistakeError(
            f"coordinates look like degrees but crs {icrs.name} is a Gauss-Krüger projection "
            "in metres",
            field="crs",
            hint='declare crs "EPSG:4490" (or "EPSG:4326") for longitude/latitude',
        )
    x_prefix = np.floor(x / 1e6).astype("int64")
    y_prefix = np.floor(y / 1e6).astype("int64")
    northing_like_x = bool(np.all((x > 1e6) & (x < 6.5e6)))
    if gk.zone is not None:
        if np.all(x_prefix == gk.zone):
            return
        if np.all(y_prefix == gk.zone) and northing_like_x:
            raise CoordinateMistakeError(
                "X and Y appear swapped: the second value carries the zone prefix "
                f"{gk.zone} of {icrs.name}, so it is the easting",
                field=field,
                hint="give [easting, northing] (x = east, y = north), not survey-table X/Y order",
            )
        if np.all(x < 1e6):
            hint = "add the zone prefix to the eastings, or declare the central-meridian code"
            if gk.zone_width:
                code = cgcs2000_gk_code(gk.zone_width, cm=gk.central_meridian)
                hint = f'declare crs "EPSG:{code}" (same zone, easting without prefix)'
            raise CoordinateMistakeError(
                f"eastings such as {x[0]:.1f} have no zone prefix but {icrs.name} expects "
                f"{gk.zone}xxxxxx.x",
                field="crs",
                hint=hint,
            )
        found = sorted({int(p) for p in x_prefix})
        raise CoordinateMistakeError(
            f"easting zone prefix {found} does not match {icrs.name} (zone {gk.zone})",
            field="crs",
            hint=_gk_guess_hint(x),
        )
    # central-meridian code: eastings are 500000 ± a few hundred km
    if np.all(np.abs(x - gk.false_easting) < 1e6):
        return
    if np.all(x >= 1e7) and np.all(np.isin(x_prefix, list(range(13, 24)) + list(range(25, 46)))):
        raise CoordinateMistakeError(
            f"eastings such as {x[0]:.1f} carry a zone prefix but {icrs.name} has none",
            field="crs",
            hint=_gk_guess_hint(x),
        )
    if np.all(np.abs(y - gk.false_easting) < 1e6) and northing_like_x:
        raise CoordinateMistakeError(
            "X and Y appear swapped: the first value looks like a northing",
            field=field,
            hint="give [easting, northing] (x = east, y = north), not survey-table X/Y order",
        )
    raise CoordinateMistakeError(
        f"eastings such as {x[0]:.1f} are far outside the zone of {icrs.name}",
        field=field,
        hint="check the declared zone / central meridian",
    )


def check_swapped(geom: BaseGeometry, extent: BaseGeometry | None, field: str = "geometry") -> None:
    """Raise if ``geom`` lies outside every loaded region but would lie inside with x/y swapped.

    Called by the engine with the union of the loaded layers' regions, since only the data knows
    where sites are expected.
    """
    if extent is None or extent.is_empty or geom.intersects(extent):
        return
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if swapped.intersects(extent):
        c = geom.centroid
        raise CoordinateMistakeError(
            f"site at ({c.x:.5f}, {c.y:.5f}) is outside every loaded region but inside one with "
            "longitude and latitude swapped",
            field=field,
            hint=f"give coordinates as [longitude, latitude], i.e. [{c.y:.5f}, {c.x:.5f}]",
        )
