"""Pydantic models of the project taxonomy, the rule files and the evaluation result.

Why pydantic with ``extra="forbid"`` and closed enums: the rulebook is domain knowledge written by
hand in YAML; a misspelt key (``efect:``) or an unknown effect must stop start-up with a message,
never be silently ignored and turn a prohibition into "clear".
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zoning.result import Basis, Finding, Governing, Verdict

Effect = Literal["prohibited", "restricted", "caution", "permitted_exception"]
Phase = Literal["new", "expansion", "reconstruction", "existing"]
GeometryClass = Literal["linear", "areal", "point"]
Confidence = Literal["H", "M", "U"]
Relation = Literal["intersects", "within_m", "contains_site", "same_basin", "outside"]
RedLineActivity = Literal["RL1", "RL2", "RL3", "RL4", "RL5", "RL6", "RL7", "RL8", "RL9", "RL10"]
RuleState = Literal[
    "prohibited",
    "restricted",
    "caution",
    "exception_possible",
    "no_conflict",
    "not_applicable",
    "no_data",
    "not_in_force",
    "superseded",
    "needs_input",
]

_CODE = re.compile(r"^\d{2,4}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- taxonomy


class ProjectType(_Strict):
    """One project type of the taxonomy (domain.md §5)."""

    id: str
    zh: str
    en: str
    geometry: GeometryClass
    industry_codes: list[str] = Field(default_factory=list, description="GB/T 4754-2017 codes")
    eia_category: str | None = Field(None, description="2021 EIA list first-level category")
    red_line_activity: RedLineActivity | None = Field(
        None, description="limited-activity type of 自然资发〔2022〕142号 (domain.md §5.3)"
    )
    aliases: list[str] = Field(default_factory=list, description="other ids (domain.md §5.1)")
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"project type id {v!r} must be snake_case ([a-z][a-z0-9_]*)")
        return v

    @field_validator("industry_codes")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            if not _CODE.match(code):
                raise ValueError(f"industry code {code!r} must be 2-4 digits (GB/T 4754-2017)")
        return v


class TypeGroup(_Strict):
    """A named set of project types (and other groups) that rules can select at once."""

    zh: str
    en: str
    members: list[str] = Field(default_factory=list)
    includes: list[str] = Field(default_factory=list, description="other group ids")


class TaxonomyFile(_Strict):
    """The whole ``project_types.yaml``."""

    version: str
    types: list[ProjectType]
    groups: dict[str, TypeGroup]


class Capacity(_Strict):
    """A project's size, e.g. ``{"value": 20, "unit": "MW"}``."""

    value: float = Field(ge=0)
    unit: str


class ProjectSpec(BaseModel):
    """What the caller says about the project (the ``project`` object of ``POST /v1/screen``)."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, description="project type id, e.g. chemical")
    industry_code: str | None = Field(None, description="GB/T 4754-2017 code, e.g. 2614")
    phase: Phase = "new"
    capacity: Capacity | None = None
    national_major_category: int | None = Field(
        None, ge=1, le=7, description="national major project category 1-7 (domain.md §5.4)"
    )
    unavoidability_evidence: str | None = None


# --------------------------------------------------------------------------- rules


class ZoneSelector(_Strict):
    """Which zone features a rule is about: a layer kind, optional classes and attribute values."""

    kind: str
    classes: list[str] = Field(default_factory=list, description="canonical zone classes; [] = any")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="attribute → accepted values (all keys must match)"
    )
    name_patterns: list[str] = Field(
        default_factory=list, description="regular expressions; any must match name or river"
    )

    @field_validator("name_patterns")
    @classmethod
    def _regex(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"name pattern {pattern!r} is not a valid regex: {exc}") from exc
        return v


class CapacityRange(_Strict):
    """A capacity threshold; bounds are inclusive and in ``unit``."""

    unit: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> CapacityRange:
        if self.min is None and self.max is None:
            raise ValueError("capacity needs min or max")
        return self


class ProjectSelector(_Strict):
    """Which projects a rule concerns. Empty lists mean "any project"."""

    types: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    industry_codes: list[str] = Field(default_factory=list, description="GB/T 4754 prefixes")
    exclude_types: list[str] = Field(default_factory=list)
    exclude_groups: list[str] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list, description="[] = any phase")
    capacity: CapacityRange | None = None
    national_major: bool | None = Field(
        None, description="true: only national major projects (a category 1-7 given)"
    )

    @property
    def is_any(self) -> bool:
        """True when the selector names no type, group or code (it concerns every project)."""
        return not (self.types or self.groups or self.industry_codes)


class SpatialCondition(_Strict):
    """How the site must relate to the selected zone features."""

    relation: Relation = "intersects"
    distance_m: float | None = Field(None, gt=0)
    distance_attribute: str | None = Field(
        None, description="take the distance from this attribute of the zone feature (metres)"
    )

    @model_validator(mode="after")
    def _distance(self) -> SpatialCondition:
        if self.relation == "within_m" and self.distance_m is None and not self.distance_attribute:
            raise ValueError("relation within_m needs distance_m or distance_attribute")
        if self.relation != "within_m" and (self.distance_m or self.distance_attribute):
            raise ValueError("distance_m/distance_attribute only go with relation within_m")
        return self


class RuleBasis(_Strict):
    """Where a rule comes from; becomes a ``zoning.result.Basis`` in findings."""

    document: str
    issuer: str | None = None
    number: str | None = None
    article: str | None = None
    seed_ref: str | None = None
    confidence: Confidence

    @field_validator("seed_ref")
    @classmethod
    def _seed(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^\d{3}_[0-9a-f]{16}\.txt L\d+(?:[–-]\d+)?$", v):
            raise ValueError(f"seed_ref {v!r} must look like '002_583ab5816dc09616.txt L264'")
        return v

    def to_result(self) -> Basis:
        """The outward ``Basis`` model."""
        return Basis(**self.model_dump())


class RuleException(_Strict):
    """An allowance inside a rule: a project matching ``when`` gets ``effect`` instead."""

    id: str | None = Field(None, description="own rule id when the exception is a catalog rule")
    when: ProjectSelector
    effect: Effect
    title_zh: str
    title_en: str
    conditions: list[str] = Field(default_factory=list)
    basis: list[RuleBasis] = Field(default_factory=list)


class Rule(_Strict):
    """One rule of the rulebook (see docs/rules.md for every field)."""

    id: str
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    zone: ZoneSelector
    also_within: list[ZoneSelector] = Field(
        default_factory=list, description="the site must also intersect one of these"
    )
    spatial: SpatialCondition = Field(default_factory=lambda: SpatialCondition.model_validate({}))
    project: ProjectSelector = Field(default_factory=lambda: ProjectSelector.model_validate({}))
    effect: Effect
    conditions: list[str] = Field(default_factory=list)
    exceptions: list[RuleException] = Field(default_factory=list)
    basis: list[RuleBasis] = Field(min_length=1)
    effective_from: date | None = None
    effective_to: date | None = None
    provinces: list[str] = Field(
        default_factory=list, description="province adcode prefixes (63 Qinghai, 52 Guizhou)"
    )
    superseded_in: ZoneSelector | None = Field(
        None, description="inside such a zone another regime replaces this rule (NP over PA)"
    )
    requires_coverage: bool = Field(
        True, description="a missing layer of this rule's kind makes the verdict insufficient"
    )

    @field_validator("id")
    @classmethod
    def _rid(cls, v: str) -> str:
        if not re.match(r"^R\d{2,3}[A-Za-z0-9._-]*$", v):
            raise ValueError(f"rule id {v!r} must start with R and 2-3 digits, e.g. R41-main")
        return v

    @field_validator("provinces")
    @classmethod
    def _prov(cls, v: list[str]) -> list[str]:
        for p in v:
            if not re.match(r"^\d{2}$", p):
                raise ValueError(f"province {p!r} must be a 2-digit adcode prefix, e.g. '63'")
        return v

    @model_validator(mode="after")
    def _dates(self) -> Rule:
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before effective_from {self.effective_from}"
            )
        return self

    def in_force(self, as_of: date) -> bool:
        """True when ``as_of`` lies in [effective_from, effective_to] (open ends allowed)."""
        if self.effective_from and as_of < self.effective_from:
            return False
        return not (self.effective_to and as_of > self.effective_to)

    def max_distance(self) -> float:
        """Search reach the engine must cover for this rule (0 for intersect-type rules)."""
        if self.spatial.relation == "within_m":
            return self.spatial.distance_m or 0.0
        return 0.0


class RuleFile(_Strict):
    """One ``rules/<family>.yaml`` file."""

    family: str
    version: str
    title_zh: str
    title_en: str
    defaults: dict[str, Any] = Field(default_factory=dict, description="provinces for every rule")
    rules: list[Rule]

    @field_validator("version")
    @classmethod
    def _semver(cls, v: str) -> str:
        if not re.match(r"^\d+\.\d+\.\d+$", v):
            raise ValueError(f"version {v!r} must be semantic (MAJOR.MINOR.PATCH)")
        return v


# --------------------------------------------------------------------------- evaluation


class RuleStatus(BaseModel):
    """The state of one rule for one site and project (domain.md §4.2)."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str
    status: RuleState
    reason: str


class Evaluation(BaseModel):
    """What ``evaluate`` returns: findings, the overall verdict and the rule that decides it."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding]
    verdict: Verdict
    governing: Governing
    statuses: list[RuleStatus]
    missing_kinds: list[str] = Field(
        default_factory=list, description="layer kinds that rules need but do not cover the site"
    )
    project_type: str | None = None
