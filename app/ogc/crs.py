"""CRS handling for OGC API – Features Part 2 and for downloads.

Why its own module: the axis-order rule is the one thing every client disagrees about. Part 2
says coordinates follow the axis order the CRS authority defines, so EPSG:4326 / EPSG:4490 are
lat/lon and the CGCS2000 Gauss–Krüger CRSs are northing/easting, while CRS84 (and plain GeoJSON)
stay lon/lat. Everything inside the service is lon/lat / easting-northing ("xy"); this module
converts at the edge, both ways, and nowhere else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

from app.errors import UnprocessableParameterError

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
STORAGE_EPSG = 4490
STORAGE_URI = EPSG_URI.format(code=STORAGE_EPSG)

_EPSG_PATTERNS = (
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$", re.I),
    re.compile(r"^\[?EPSG:(\d+)\]?$", re.I),
    re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.I),
)
_CRS84_NAMES = {
    CRS84_URI.lower(),
    "https://www.opengis.net/def/crs/ogc/1.3/crs84",
    "crs84",
    "ogc:crs84",
    "[ogc:crs84]",
    "urn:ogc:def:crs:ogc:1.3:crs84",
}

#: CGCS2000 Gauss–Krüger families: (first EPSG code, first zone number, last zone number, width°)
GK_3_ZONE = (4513, 25, 45, 3)  # "3-degree Gauss-Kruger zone N" (false easting carries the zone)
GK_3_CM = (4534, 25, 45, 3)  # "3-degree Gauss-Kruger CM ..E"
GK_6_ZONE = (4491, 13, 23, 6)  # "Gauss-Kruger zone N"
GK_6_CM = (4502, 13, 23, 6)  # "Gauss-Kruger CM ..E"


@dataclass(frozen=True)
class OutputCRS:
    """A CRS a client asked for: its URI, pyproj CRS and whether axis 1 is northing/latitude."""

    uri: str
    crs: CRS
    swap_xy: bool

    @property
    def is_storage(self) -> bool:
        return self.crs.to_epsg() == STORAGE_EPSG and not self.uri.endswith("CRS84")


def crs_uri(epsg: int | None) -> str:
    return CRS84_URI if epsg is None else EPSG_URI.format(code=epsg)


@lru_cache(maxsize=256)
def parse_crs(value: str, field: str = "crs") -> OutputCRS:
    """Parse a CRS URI / CURIE / ``EPSG:n``; errors name ``field`` and list accepted forms."""
    text = value.strip()
    if text.lower() in _CRS84_NAMES:
        return OutputCRS(CRS84_URI, CRS.from_string("OGC:CRS84"), False)
    for pattern in _EPSG_PATTERNS:
        match = pattern.match(text)
        if match:
            code = int(match.group(1))
            try:
                crs = CRS.from_epsg(code)
            except PyprojCRSError as exc:
                raise UnprocessableParameterError(
                    f"{field}: EPSG:{code} is not a known CRS ({exc})",
                    field=field,
                    hint="use e.g. EPSG:4490, EPSG:4326 or a CGCS2000 Gauss–Krüger code 4491–4554",
                ) from exc
            direction = crs.axis_info[0].direction.lower() if crs.axis_info else "east"
            return OutputCRS(EPSG_URI.format(code=code), crs, direction in ("north", "south"))
    raise UnprocessableParameterError(
        f"{field}: cannot read '{value}' as a CRS",
        field=field,
        hint=f"use a URI like {STORAGE_URI} or {CRS84_URI}, or the short form EPSG:4490",
    )


def gk_codes_for_bbox(minx: float, maxx: float) -> list[int]:
    """CGCS2000 Gauss–Krüger EPSG codes (3° and 6°, zone and CM variants) covering a lon range."""
    codes: list[int] = []
    for first_code, first_zone, last_zone, width in (GK_3_ZONE, GK_3_CM, GK_6_ZONE, GK_6_CM):
        if width == 3:
            lo, hi = round(minx / 3), round(maxx / 3)
        else:
            lo, hi = math.floor(minx / 6) + 1, math.floor(maxx / 6) + 1
        lo, hi = max(lo, first_zone), min(hi, last_zone)
        codes.extend(first_code + zone - first_zone for zone in range(lo, hi + 1))
    return codes


def offered_crs(bbox: tuple[float, float, float, float]) -> list[str]:
    """The CRS list of a collection: CRS84, EPSG:4326, EPSG:4490 and the GK zones over ``bbox``."""
    uris = [CRS84_URI, EPSG_URI.format(code=4326), STORAGE_URI]
    uris.extend(EPSG_URI.format(code=c) for c in gk_codes_for_bbox(bbox[0], bbox[2]))
    return uris


@lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def _crs_key(target: OutputCRS) -> str:
    return "OGC:CRS84" if target.uri == CRS84_URI else f"EPSG:{target.crs.to_epsg()}"


def to_output(geoms: np.ndarray, target: OutputCRS) -> np.ndarray:
    """Storage (EPSG:4490, lon/lat) geometries → ``target`` in its authority axis order."""
    key = _crs_key(target)
    out = geoms
    if key not in ("EPSG:4490", "OGC:CRS84", "EPSG:4326"):
        # CGCS2000 and WGS 84 agree to well under a metre; only projected targets transform.
        tr = _transformer("EPSG:4490", key)
        out = shapely.transform(out, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if target.swap_xy:
        out = shapely.transform(out, lambda xy: xy[:, ::-1])
    return out


def bbox_to_storage(
    bbox: tuple[float, ...], source: OutputCRS
) -> tuple[float, float, float, float]:
    """A bbox given in ``source`` (its axis order) → lon/lat EPSG:4490 (densified edges)."""
    if len(bbox) == 6:  # minx, miny, minz, maxx, maxy, maxz: heights are ignored
        x0, y0, x1, y1 = bbox[0], bbox[1], bbox[3], bbox[4]
    else:
        x0, y0, x1, y1 = bbox[0], bbox[1], bbox[2], bbox[3]
    if source.swap_xy:
        x0, y0, x1, y1 = y0, x0, y1, x1
    key = _crs_key(source)
    if key in ("EPSG:4490", "OGC:CRS84", "EPSG:4326"):
        return (x0, y0, x1, y1)
    tr = _transformer(key, "EPSG:4490")
    return tuple(tr.transform_bounds(x0, y0, x1, y1, densify_pts=21))  # type: ignore[return-value]


def storage_bbox_to_output(
    bbox: tuple[float, float, float, float], target: OutputCRS
) -> list[float]:
    """A lon/lat bbox → ``target`` coordinates in its axis order (for extents and responses)."""
    key = _crs_key(target)
    x0, y0, x1, y1 = bbox
    if key not in ("EPSG:4490", "OGC:CRS84", "EPSG:4326"):
        tr = _transformer("EPSG:4490", key)
        x0, y0, x1, y1 = tr.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return [y0, x0, y1, x1] if target.swap_xy else [x0, y0, x1, y1]


def geometry_to_output(geom: BaseGeometry, target: OutputCRS) -> BaseGeometry:
    result = to_output(np.array([geom], dtype=object), target)[0]
    assert isinstance(result, BaseGeometry)
    return result
