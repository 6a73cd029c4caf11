"""Pydantic models of the screening result (the outward contract in interface.md).

Why here and not in ``app/``: the Python API, the CLI's ``--json`` output, the HTTP service and
the batch writer all return the same shape, so the models live with the engine and ``app``
re-uses them as response models.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Effect = Literal["prohibited", "restricted", "caution", "permitted_exception"]
Verdict = Literal["prohibited", "restricted", "caution", "clear", "insufficient_data"]
Relation = Literal["intersects", "within_buffer", "contains_site"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteInfo(_Model):
    """The site as understood after parsing, reprojection and repair."""

    type: str = Field(description="GeoJSON geometry type of the site")
    area_m2: float = Field(0.0, description="Ellipsoidal area in m² (0 for points and lines)")
    area_ha: float = Field(0.0, description="Area in hectares")
    area_mu: float = Field(0.0, description="Area in 亩 (1 ha = 15 亩)")
    length_m: float | None = Field(None, description="Ellipsoidal length in m (lines only)")
    centroid: tuple[float, float] = Field(description="[lon, lat] in EPSG:4490")
    input_crs: str = Field(description="CRS the coordinates were given in")
    warnings: list[str] = Field(default_factory=list)
    vertex_count: int | None = None
    geometry: dict[str, Any] | None = Field(
        None, description="the site as parsed and repaired: GeoJSON in EPSG:4490 (lon/lat)"
    )


class Hit(_Model):
    """One zone feature that the site intersects or comes within reach of."""

    layer: str
    layer_kind: str
    feature_id: str
    name: str | None = None
    zone_class: str | None = None
    relation: Relation
    overlap_area_m2: float | None = None
    overlap_ratio: float | None = Field(None, description="overlap area / site area, in [0, 1]")
    length_inside_m: float | None = None
    distance_m: float = Field(description="0 when intersecting; else shortest ellipsoidal distance")
    band_m: float | None = Field(None, description="smallest requested buffer band that reaches it")
    share: float | None = Field(
        None, description="for containment layers (admin, basins): share of the site inside"
    )
    accuracy: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class RiverDistance(_Model):
    """Shortest distance from the site to a named river, by level (shoreline rules need it)."""

    layer: str
    river: str
    level: str | None = None
    basin: str | None = None
    distance_m: float
    feature_id: str


class RasterStats(_Model):
    """Zonal statistics of a raster layer over the site (e.g. elevation and slope)."""

    layer: str
    min: float | None = None
    mean: float | None = None
    max: float | None = None
    slope_deg_mean: float | None = None
    slope_deg_max: float | None = None
    cells: int = 0
    unit: str | None = None


class SpatialResult(_Model):
    """What ``zoning.screen.screen`` finds for one site, before any rule is applied.

    Why a model of its own: the evaluator (``zoning.rules.evaluate``) and ``zoning.api`` consume it
    without depending on the engine's internals, and tests can build one by hand.
    """

    hits: list[Hit] = Field(default_factory=list)
    coverage: list[LayerCoverage] = Field(default_factory=list)
    rasters: list[RasterStats] = Field(default_factory=list)
    rivers: list[RiverDistance] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict, description="layer id → version")


class Basis(_Model):
    document: str
    article: str | None = None
    issuer: str | None = None
    number: str | None = None
    seed_ref: str | None = Field(None, description="`<seed file> L<line>` where the rule comes from")
    confidence: str | None = None


class Finding(_Model):
    rule_id: str
    effect: Effect
    title: str
    title_zh: str
    explanation: str
    explanation_zh: str | None = None
    conditions: list[str] = Field(default_factory=list)
    basis: list[Basis] = Field(default_factory=list)
    hit_refs: list[str] = Field(default_factory=list)
    status: str | None = Field(None, description="finer per-rule state (domain.md §4.2)")


class Governing(_Model):
    rule_id: str | None
    why: str


class LayerCoverage(_Model):
    layer: str
    status: Literal["covered", "no_data"]
    kind: str | None = Field(
        None, description="layer kind (layers/kinds.yaml); the evaluator needs it to tell which "
        "rule families lack data at the site"
    )
    covered_share: float | None = Field(
        None,
        description="share of the site inside the layer's coverage (1 = fully covered); a site "
        "that straddles the coverage edge is no_data but keeps the hits found in the covered part",
    )


class Versions(_Model):
    layers: dict[str, str] = Field(default_factory=dict)
    rulebook: str | None = None


class ScreeningResult(_Model):
    result_id: str
    verdict: Verdict
    site: SiteInfo
    hits: list[Hit] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    governing: Governing | None = None
    coverage: list[LayerCoverage] = Field(default_factory=list)
    rivers: list[RiverDistance] = Field(default_factory=list)
    rasters: list[RasterStats] = Field(default_factory=list)
    project: dict[str, Any] | None = None
    versions: Versions = Field(default_factory=Versions)
    as_of: date
