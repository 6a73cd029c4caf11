"""The site to screen: parsed, checked, reprojected to EPSG:4490, repaired and measured once.

Why a frozen value object built only through factories: HTTP bodies, CLI flags and batch rows
all arrive as raw GeoJSON / WKT / numbers with a CRS string. Everything downstream (screening,
rules, reports) must see one checked geometry in one CRS, with the warnings of what we changed,
so bad input is refused here with a message naming the field and the fix.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from zoning import measure
from zoning.crs import InputCRS, check_coordinates, parse_crs, to_storage, to_storage_xy
from zoning.errors import InvalidGeometryError, TooLargeError
from zoning.result import SiteInfo

DEFAULT_MAX_VERTICES = int(os.environ.get("ZONING_MAX_VERTICES", "100000"))
MAX_RADIUS_M = 100_000.0

SUPPORTED_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
# depth of nesting of positions inside "coordinates", per type
_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
_TYPE_HINT = f"use one of {', '.join(SUPPORTED_TYPES)}"


@dataclass(frozen=True)
class Site:
    """A checked site in EPSG:4490 lon/lat with its ellipsoidal measures."""

    geometry: BaseGeometry
    geom_type: str
    input_crs: str
    warnings: list[str] = field(default_factory=list)
    area_m2: float = 0.0
    length_m: float = 0.0
    centroid: tuple[float, float] = (0.0, 0.0)
    vertex_count: int = 0
    radius_m: float | None = None

    # --- factories ---------------------------------------------------------------------------

    @classmethod
    def from_geojson(
        cls,
        obj: dict[str, Any] | str,
        crs: str | int | None = "EPSG:4326",
        *,
        max_vertices: int | None = None,
        field_name: str = "geometry",
    ) -> Site:
        """Parse a GeoJSON geometry or Feature (dict or JSON text)."""
        if isinstance(obj, str | bytes):
            try:
                obj = json.loads(obj)
            except ValueError as exc:
                raise InvalidGeometryError(
                    f"{field_name} is not valid JSON: {exc}",
                    field=field_name,
                    hint="send a GeoJSON geometry object",
                ) from exc
        if not isinstance(obj, dict):
            raise InvalidGeometryError(
                f"{field_name} must be a GeoJSON object, got {type(obj).__name__}",
                field=field_name,
                hint='e.g. {"type": "Point", "coordinates": [101.78, 36.62]}',
            )
        if obj.get("type") == "Feature":
            field_name = f"{field_name}.geometry"
            obj = obj.get("geometry")  # type: ignore[assignment]
            if not isinstance(obj, dict):
                raise InvalidGeometryError(
                    "the Feature has no geometry", field=field_name, hint="add a geometry object"
                )
        gtype = obj.get("type")
        if gtype == "FeatureCollection":
            raise InvalidGeometryError(
                "a FeatureCollection holds many sites; this call screens one",
                field=f"{field_name}.type",
                hint="send one geometry or Feature, or use batch screening for many sites",
            )
        if gtype == "GeometryCollection":
            raise InvalidGeometryError(
                "GeometryCollection is not supported as a site",
                field=f"{field_name}.type",
                hint=f"split it into separate sites or {_TYPE_HINT}",
            )
        if gtype not in _DEPTH:
            raise InvalidGeometryError(
                f"unsupported geometry type {gtype!r}", field=f"{field_name}.type", hint=_TYPE_HINT
            )
        icrs = parse_crs(crs)
        limit = max_vertices or DEFAULT_MAX_VERTICES
        coords_field = f"{field_name}.coordinates"
        coords = obj.get("coordinates")
        parts, had_z = _parse_positions(coords, _DEPTH[gtype], coords_field, limit)
        warnings: list[str] = []
        if had_z:
            warnings.append("3-D coordinates: the Z values were dropped (screening is 2-D)")
        geom = _build(gtype, parts, coords_field, warnings)
        return cls._finish(geom, icrs, warnings, coords_field)

    @classmethod
    def from_wkt(
        cls, text: str, crs: str | int | None = "EPSG:4326", *, max_vertices: int | None = None
    ) -> Site:
        """Parse WKT (2-D or 3-D; Z is dropped with a warning)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidGeometryError("wkt is empty", field="wkt", hint="e.g. POINT (101.78 36.62)")
        try:
            geom = shapely.from_wkt(text.strip())
        except shapely.errors.GEOSException as exc:
            raise InvalidGeometryError(
                f"wkt cannot be parsed: {exc}", field="wkt", hint="e.g. POINT (101.78 36.62)"
            ) from exc
        return cls.from_geometry(geom, crs, max_vertices=max_vertices, field_name="wkt")

    @classmethod
    def from_geometry(
        cls,
        geom: BaseGeometry,
        crs: str | int | None = "EPSG:4326",
        *,
        max_vertices: int | None = None,
        field_name: str = "geometry",
    ) -> Site:
        """Build from a shapely geometry in ``crs`` (batch rows, WKT)."""
        if geom is None:
            raise InvalidGeometryError("geometry is missing", field=field_name, hint=_TYPE_HINT)
        gtype = geom.geom_type
        if gtype == "GeometryCollection":
            raise InvalidGeometryError(
                "GeometryCollection is not supported as a site",
                field=field_name,
                hint=f"split it into separate sites or {_TYPE_HINT}",
            )
        if gtype not in _DEPTH:
            raise InvalidGeometryError(
                f"unsupported geometry type {gtype!r}", field=field_name, hint=_TYPE_HINT
            )
        if geom.is_empty:
            raise InvalidGeometryError(
                f"{gtype} is empty", field=field_name, hint="send at least one coordinate"
            )
        limit = max_vertices or DEFAULT_MAX_VERTICES
        n = int(shapely.get_num_coordinates(geom))
        if n > limit:
            raise TooLargeError(
                f"site has {n} vertices, more than the limit of {limit}",
                field=field_name,
                hint="simplify the geometry or split it into several sites",
            )
        xyz = shapely.get_coordinates(geom, include_z=True)
        bad = ~np.isfinite(xyz[:, :2]).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidGeometryError(
                f"coordinate {i} is not a finite number ({xyz[i, 0]}, {xyz[i, 1]})",
                field=field_name,
                hint="remove NaN/Infinity values",
            )
        icrs = parse_crs(crs)
        warnings: list[str] = []
        if shapely.has_z(geom):
            geom = shapely.force_2d(geom)
            warnings.append("3-D coordinates: the Z values were dropped (screening is 2-D)")
        return cls._finish(geom, icrs, warnings, field_name)

    @classmethod
    def from_lonlat(cls, lon: float, lat: float, crs: str | int | None = "EPSG:4326") -> Site:
        """A point from two numbers (lon/lat, or easting/northing for a projected CRS)."""
        for name, value in (("lon", lon), ("lat", lat)):
            _check_number(value, name)
        icrs = parse_crs(crs)
        return cls._finish(shapely.Point(float(lon), float(lat)), icrs, [], "lonlat")

    @classmethod
    def from_point_radius(
        cls, lon: float, lat: float, radius_m: float, crs: str | int | None = "EPSG:4326"
    ) -> Site:
        """A geodesic circle of ``radius_m`` around a point (256 vertices on the ellipsoid)."""
        for name, value in (("lon", lon), ("lat", lat), ("radius_m", radius_m)):
            _check_number(value, name)
        if not 0 < radius_m <= MAX_RADIUS_M:
            raise InvalidGeometryError(
                f"radius_m must be in (0, {MAX_RADIUS_M:g}] m, got {radius_m}",
                field="radius_m",
                hint="give the radius in metres",
            )
        icrs = parse_crs(crs)
        x, y = np.array([float(lon)]), np.array([float(lat)])
        check_coordinates(x, y, icrs, "lonlat")
        clon, clat = to_storage_xy(x, y, icrs)
        ring = measure.geodesic_circle(float(clon[0]), float(clat[0]), float(radius_m))
        circle = shapely.Polygon(ring)
        return cls._measure(circle, icrs, [], radius_m=float(radius_m))

    # --- shared tail -------------------------------------------------------------------------

    @classmethod
    def _finish(
        cls, geom: BaseGeometry, icrs: InputCRS, warnings: list[str], field_name: str
    ) -> Site:
        xy = shapely.get_coordinates(geom)
        check_coordinates(xy[:, 0], xy[:, 1], icrs, field_name)
        geom = to_storage(geom, icrs)
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            raise InvalidGeometryError(
                f"coordinates cannot be converted from {icrs.name} (outside its area of use)",
                field=field_name,
                hint="check the declared crs",
            )
        geom = _repair(geom, warnings, field_name)
        return cls._measure(geom, icrs, warnings)

    @classmethod
    def _measure(
        cls, geom: BaseGeometry, icrs: InputCRS, warnings: list[str], radius_m: float | None = None
    ) -> Site:
        shapely.prepare(geom)
        c = geom.centroid
        polygonal = geom.geom_type in ("Polygon", "MultiPolygon")
        return cls(
            geometry=geom,
            geom_type=geom.geom_type,
            input_crs=icrs.name,
            warnings=warnings,
            area_m2=measure.geodesic_area_m2(geom) if polygonal else 0.0,
            length_m=measure.geodesic_length_m(geom) if not polygonal else 0.0,
            centroid=(float(c.x), float(c.y)),
            vertex_count=int(shapely.get_num_coordinates(geom)),
            radius_m=radius_m,
        )

    # --- views -------------------------------------------------------------------------------

    @property
    def is_polygonal(self) -> bool:
        return self.geom_type in ("Polygon", "MultiPolygon")

    @property
    def is_lineal(self) -> bool:
        return self.geom_type in ("LineString", "MultiLineString")

    def to_info(self) -> SiteInfo:
        """The ``site`` block of the screening result."""
        return SiteInfo(
            type=self.geom_type,
            area_m2=self.area_m2,
            area_ha=measure.m2_to_ha(self.area_m2),
            area_mu=measure.m2_to_mu(self.area_m2),
            length_m=self.length_m if self.is_lineal else None,
            centroid=self.centroid,
            input_crs=self.input_crs,
            warnings=list(self.warnings),
            vertex_count=self.vertex_count,
        )


# --- helpers ---------------------------------------------------------------------------------------


def _check_number(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidGeometryError(
            f"{name} must be a number, got {type(value).__name__}", field=name, hint="send a number"
        )
    if not math.isfinite(float(value)):
        raise InvalidGeometryError(f"{name} is {value}", field=name, hint="send a finite number")


def _parse_positions(
    coords: Any, depth: int, path: str, limit: int
) -> tuple[Any, bool]:
    """Turn nested GeoJSON coordinates into nested lists of (n, 2) float arrays.

    Fast path: each innermost list goes through ``numpy.asarray`` in one call; only when that
    fails do we walk it position by position to name the exact offending element.
    Returns (parts, had_z).
    """
    counter = [0]
    had_z = [False]

    def walk(node: Any, level: int, where: str) -> Any:
        if level == 0:
            arr = _position(node, where)
            counter[0] += 1
            return arr.reshape(1, -1)[:, :2][0]
        if not isinstance(node, list | tuple):
            raise InvalidGeometryError(
                f"{where} must be an array, got {type(node).__name__}",
                field=where,
                hint="check the nesting of coordinates for this geometry type",
            )
        if level == 1:
            return positions(node, where)
        return [walk(child, level - 1, f"{where}[{i}]") for i, child in enumerate(node)]

    def positions(node: Any, where: str) -> np.ndarray:
        try:
            raw = np.asarray(node)
            ok = raw.dtype.kind in "fiu" and raw.ndim == 2 and raw.shape[1] >= 2
            arr = raw.astype("float64") if ok else raw
        except (ValueError, TypeError):
            ok = False
        if not ok:
            arr = np.array([_position(p, f"{where}[{i}]")[:2] for i, p in enumerate(node)])
            if arr.size == 0:
                arr = np.zeros((0, 2))
        else:
            bad = ~np.isfinite(arr[:, :2]).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidGeometryError(
                    f"{where}[{i}] is not finite ({node[i]})",
                    field=f"{where}[{i}]",
                    hint="remove NaN/Infinity values",
                )
            if arr.shape[1] > 2:
                had_z[0] = True
        counter[0] += len(arr)
        if counter[0] > limit:
            raise TooLargeError(
                f"site has more than the limit of {limit} vertices",
                field=path,
                hint="simplify the geometry or split it into several sites",
            )
        return arr[:, :2]

    def _position(p: Any, where: str) -> np.ndarray:
        if not isinstance(p, list | tuple) or len(p) < 2:
            raise InvalidGeometryError(
                f"{where} must be a position [x, y], got {p!r}",
                field=where,
                hint="each position is [longitude, latitude] (or [x, y] in the declared crs)",
            )
        for j, v in enumerate(p):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise InvalidGeometryError(
                    f"{where}[{j}] must be a number, got {v!r}",
                    field=f"{where}[{j}]",
                    hint="send numbers, not strings",
                )
            if not math.isfinite(v):
                raise InvalidGeometryError(
                    f"{where}[{j}] is {v}", field=f"{where}[{j}]", hint="remove NaN/Infinity values"
                )
        if len(p) > 2:
            had_z[0] = True
        return np.asarray(p, dtype="float64")

    if coords is None:
        raise InvalidGeometryError(
            f"{path} is missing", field=path, hint="add the coordinates array"
        )
    parts = walk(coords, depth, path)
    return parts, had_z[0]


def _empty(where: str, what: str) -> InvalidGeometryError:
    return InvalidGeometryError(f"{what} is empty", field=where, hint="send at least one coordinate")


def _ring(arr: np.ndarray, where: str, warnings: list[str]) -> np.ndarray:
    if len(arr) and not np.array_equal(arr[0], arr[-1]):
        arr = np.vstack((arr, arr[:1]))
        warnings.append(f"{where}: ring was not closed; closed it")
    if len(np.unique(arr, axis=0)) < 3:
        raise InvalidGeometryError(
            f"{where} needs at least 3 distinct positions to enclose an area",
            field=where,
            hint="a polygon ring is [[x1,y1],[x2,y2],[x3,y3],[x1,y1]]",
        )
    return arr


def _build(gtype: str, parts: Any, where: str, warnings: list[str]) -> BaseGeometry:
    if gtype == "Point":
        return shapely.Point(parts)
    if gtype == "MultiPoint":
        if len(parts) == 0:
            raise _empty(where, "MultiPoint")
        return shapely.MultiPoint(parts)
    if gtype == "LineString":
        return _line(parts, where)
    if gtype == "MultiLineString":
        if len(parts) == 0:
            raise _empty(where, "MultiLineString")
        return shapely.MultiLineString([_line(p, f"{where}[{i}]") for i, p in enumerate(parts)])
    if gtype == "Polygon":
        return _polygon(parts, where, warnings)
    if len(parts) == 0:
        raise _empty(where, "MultiPolygon")
    polys = [_polygon(p, f"{where}[{i}]", warnings) for i, p in enumerate(parts)]
    return shapely.MultiPolygon(polys)


def _line(arr: np.ndarray, where: str) -> shapely.LineString:
    if len(arr) == 0:
        raise _empty(where, "LineString")
    if len(np.unique(arr, axis=0)) < 2:
        raise InvalidGeometryError(
            f"{where} needs at least 2 distinct positions",
            field=where,
            hint="a line is [[x1,y1],[x2,y2],...]",
        )
    return shapely.LineString(arr)


def _polygon(rings: list[np.ndarray], where: str, warnings: list[str]) -> shapely.Polygon:
    if len(rings) == 0 or len(rings[0]) == 0:
        raise _empty(where, "Polygon")
    fixed = [_ring(r, f"{where}[{i}]", warnings) for i, r in enumerate(rings)]
    return shapely.Polygon(fixed[0], fixed[1:])


def _repair(geom: BaseGeometry, warnings: list[str], field_name: str) -> BaseGeometry:
    """Make invalid polygons valid (keeping the polygonal part) and say what was wrong."""
    if geom.is_valid:
        return geom
    reason = shapely.is_valid_reason(geom)
    polygonal = geom.geom_type in ("Polygon", "MultiPolygon")
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False) if polygonal else (
        shapely.make_valid(geom)
    )
    if polygonal:
        # keep only area; collapsed slivers (lines/points) have no area to screen
        polys = shapely.get_parts(fixed)
        polys = polys[np.isin(shapely.get_type_id(polys), (3, 6))]
        fixed = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    if fixed.is_empty:
        raise InvalidGeometryError(
            f"the geometry is invalid ({reason}) and nothing is left after repair",
            field=field_name,
            hint="draw the polygon again without self-intersections",
        )
    warnings.append(f"invalid geometry repaired ({reason})")
    return fixed
