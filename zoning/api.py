"""The screening entry points every interface calls: one site, or many in bulk.

``screen_site`` turns a request (the ``POST /v1/screen`` body, or the CLI's flags in the same
shape) into a ``ScreeningResult``: parse the site, screen it spatially, evaluate the rulebook, and
stamp the data and rulebook versions. ``screen_sites`` does the same for a GeoDataFrame of sites
through the engine's bulk path, returning one summary row per site and one row per hit.

This module is the only place where "today" is read (for a request without ``as_of``): the
engine and the evaluator stay pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import shapely

from zoning.errors import InvalidGeometryError, ZoningError
from zoning.index import LayerIndex
from zoning.result import ScreeningResult, Versions
from zoning.rules import Rulebook, evaluate
from zoning.rules.models import ProjectSpec
from zoning.screen import DEFAULT_BUFFERS_M, screen
from zoning.site import Site

DEFAULT_MAX_VERTICES = 100_000


def parse_site(request: Mapping[str, Any], max_vertices: int | None = None) -> Site:
    """The request's site: ``geometry`` (GeoJSON or Feature), ``wkt`` or ``lonlat``, in ``crs``.

    A Point with ``radius_m`` becomes a geodesic circle, because "this point plus 500 m" is how
    many siting questions are asked.
    """
    crs = request.get("crs") or "EPSG:4326"
    radius = request.get("radius_m")
    limit = max_vertices or DEFAULT_MAX_VERTICES
    if request.get("geometry") is not None:
        geometry = request["geometry"]
        if radius:
            point = geometry.get("geometry") if isinstance(geometry, Mapping) and geometry.get(
                "type") == "Feature" else geometry
            if not isinstance(point, Mapping) or point.get("type") != "Point":
                raise InvalidGeometryError(
                    "radius_m applies to a Point site only",
                    field="radius_m",
                    hint="drop radius_m, or send a Point geometry",
                )
            coords = point.get("coordinates")
            if not isinstance(coords, list | tuple) or len(coords) < 2:
                raise InvalidGeometryError(
                    "a Point needs [x, y] coordinates",
                    field="geometry.coordinates",
                    hint="e.g. [101.78, 36.62]",
                )
            return Site.from_point_radius(coords[0], coords[1], float(radius), crs=crs)
        return Site.from_geojson(geometry, crs=crs, max_vertices=limit)
    if request.get("wkt"):
        return Site.from_wkt(str(request["wkt"]), crs=crs, max_vertices=limit)
    if request.get("lonlat") is not None:
        lon, lat = request["lonlat"]
        if radius:
            return Site.from_point_radius(lon, lat, float(radius), crs=crs)
        return Site.from_lonlat(lon, lat, crs=crs)
    raise InvalidGeometryError(
        "no site given", field="geometry", hint="send a GeoJSON geometry (or wkt / lonlat)"
    )


def parse_project(raw: Any) -> ProjectSpec | None:
    """The request's project as a ``ProjectSpec`` (unknown type ids are caught by the evaluator)."""
    if raw is None:
        return None
    if isinstance(raw, ProjectSpec):
        return raw
    if isinstance(raw, str):
        raw = {"type": raw}
    try:
        return ProjectSpec.model_validate(raw)
    except ValueError as exc:
        raise ZoningError(
            f"project is not valid: {exc}",
            field="project",
            hint='e.g. {"type": "solar_pv", "phase": "new"}; see GET /v1/project-types',
        ) from exc


def search_reach_m(buffers_m: Sequence[float], rulebook: Rulebook) -> float:
    """How far to look: the widest display band, or the farthest distance a rule asks about."""
    return max([*buffers_m, rulebook.max_distance_m, 0.0])


def screen_site(
    request: Mapping[str, Any],
    index: LayerIndex,
    rulebook: Rulebook,
    settings: Any = None,
    *,
    today: date | None = None,
) -> ScreeningResult:
    """Screen one site for one (optional) project on ``as_of`` (default: today)."""
    max_vertices = getattr(settings, "max_vertices", None)
    site = parse_site(request, max_vertices)
    project = parse_project(request.get("project"))
    as_of = _as_of(request.get("as_of"), today)
    buffers = tuple(request.get("buffers_m") or DEFAULT_BUFFERS_M)
    spatial = screen(site, index, buffers, search_m=search_reach_m(buffers, rulebook))
    evaluation = evaluate(site, spatial, project, rulebook, as_of)
    info = site.to_info()
    info = info.model_copy(update={"geometry": shapely.geometry.mapping(site.geometry)})
    return ScreeningResult(
        result_id=uuid.uuid4().hex,
        verdict=evaluation.verdict,
        site=info,
        hits=spatial.hits,
        findings=evaluation.findings,
        governing=evaluation.governing,
        coverage=spatial.coverage,
        rivers=spatial.rivers,
        rasters=spatial.rasters,
        project=_project_echo(project, evaluation.project_type),
        versions=Versions(layers=dict(spatial.versions), rulebook=rulebook.version),
        as_of=as_of,
    )


def _as_of(value: Any, today: date | None) -> date:
    if value is None or value == "":
        return today or date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ZoningError(
            f"as_of {value!r} is not a date", field="as_of", hint="use YYYY-MM-DD"
        ) from exc


def _project_echo(project: ProjectSpec | None, resolved_type: str | None) -> dict[str, Any] | None:
    if project is None:
        return None
    echo = project.model_dump(exclude_none=True)
    if resolved_type:
        echo["resolved_type"] = resolved_type
    return echo
