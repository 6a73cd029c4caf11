"""Request models of the HTTP service and the few response models that are the service's own.

Screening results re-use ``zoning.result.ScreeningResult`` and the catalog re-uses
``layers.catalog.CatalogEntry``, so the CLI's ``--json`` output and HTTP responses cannot drift.
Every field carries a description because ``/openapi.json`` is what integrators read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zoning.rules.models import ProjectType, Rule


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Capacity(_Request):
    value: float = Field(description="capacity figure, e.g. 5")
    unit: str = Field(description="unit as written in the filing, e.g. 万吨/年")


class ProjectRequest(_Request):
    """What is planned on the site; drives which rules apply."""

    type: str = Field(description="project type id from GET /v1/project-types, e.g. chemical")
    industry_code: str | None = Field(
        None, description="GB/T 4754 industry code, e.g. 2614 (more specific than type)"
    )
    phase: Literal["new", "expansion", "renovation", "existing"] | None = Field(
        None, description="new build, expansion, renovation, or an existing operation"
    )
    capacity: Capacity | None = Field(None, description="planned capacity, when rules depend on it")


class ScreenRequest(_Request):
    """``POST /v1/screen`` body (interface.md). Only ``geometry`` is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [101.7, 36.6],
                                [101.8, 36.6],
                                [101.8, 36.7],
                                [101.7, 36.7],
                                [101.7, 36.6],
                            ]
                        ],
                    },
                    "crs": "EPSG:4326",
                    "project": {"type": "chemical", "industry_code": "2614", "phase": "new"},
                    "buffers_m": [1000, 5000, 10000],
                    "as_of": "2026-11-01",
                }
            ]
        },
    )

    geometry: dict[str, Any] | None = Field(
        None,
        description="GeoJSON geometry (Point, LineString, Polygon, Multi*) or a GeoJSON Feature "
        "holding one; coordinates in `crs` order (lon/lat for EPSG:4326/4490, as in GeoJSON). "
        "Required unless `wkt` or `lonlat` is given.",
    )
    wkt: str | None = Field(None, description="the site as WKT instead of `geometry`")
    lonlat: tuple[float, float] | None = Field(
        None, description="a point site [lon, lat] (or [x, y] in `crs`) instead of `geometry`"
    )
    radius_m: float | None = Field(
        None,
        ge=1,
        le=100_000,
        description="with a Point site: screen the geodesic circle of this radius (1 m–100 km)",
    )
    crs: str = Field(
        "EPSG:4326",
        description="CRS of the coordinates: EPSG:4326, EPSG:4490, CGCS2000 Gauss–Krüger codes "
        "(EPSG:4491–4554), GCJ02 or BD09",
    )
    project: ProjectRequest | None = Field(
        None, description="planned project; omit for a zone check"
    )
    buffers_m: list[float] | None = Field(
        None,
        description="distance bands in metres for nearby zones (default 1000, 5000, 10000)",
        max_length=10,
    )
    as_of: date | None = Field(None, description="date the rules are evaluated at (default today)")


class ReloadStatusModel(BaseModel):
    ok: bool | None = Field(None, description="true: swapped; false: failed, old data kept")
    at: datetime | None = Field(None, description="when the last reload finished")
    error: str | None = Field(None, description="why the last reload failed")
    trigger: str | None = Field(None, description="admin endpoint or SIGHUP")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "no_data"] = Field(
        description="ok: data and rulebook loaded; degraded: serving without a part; no_data"
    )
    data_dir: str
    data_version: str | None = Field(None, description="hash over every layer version")
    layers: dict[str, str] = Field(default_factory=dict, description="layer id → file sha256")
    rulebook: str | None = Field(None, description="rulebook version")
    loaded_at: datetime | None = None
    problems: list[str] = Field(default_factory=list)
    reload: ReloadStatusModel = Field(
        default_factory=lambda: ReloadStatusModel(ok=None, at=None, error=None, trigger=None)
    )


class ReloadResponse(ReloadStatusModel):
    data_version: str | None = Field(None, description="the version now being served")


class RuleOut(Rule):
    """A rule as stored in the rulebook, plus the family (rule file) it belongs to."""

    family: str = Field(description="rule file family, e.g. red_line")


class RulesResponse(BaseModel):
    version: str = Field(description="rulebook version: <semver>+<12 hex of the files' sha256>")
    semver: str
    families: dict[str, str] = Field(description="family → version of its rule file")
    rule_count: int = Field(description="rules in the rulebook (before filters)")
    max_distance_m: float = Field(description="largest search distance any rule needs")
    taxonomy_version: str
    rules: list[RuleOut] = Field(description="rules matching the filters")


class ProjectTypeOut(ProjectType):
    """A project type of the taxonomy, with the groups it belongs to."""

    groups: list[str] = Field(default_factory=list, description="group ids containing the type")


class ProjectGroupOut(BaseModel):
    id: str
    zh: str
    en: str
    members: list[str]


class ProjectTypesResponse(BaseModel):
    version: str = Field(description="taxonomy version")
    rulebook: str = Field(description="rulebook version the taxonomy belongs to")
    types: list[ProjectTypeOut]
    groups: list[ProjectGroupOut]
