"""Schema of the illustrative-layer rule files (``layers/extract/rules/illustrative_*.yaml``).

Why pydantic with ``extra="forbid"``: the rules are domain knowledge kept as data, and a typo in a
key (``min_elev`` for ``min_elev_m``) would otherwise silently drop a constraint and change a
polygon. Validation errors name the file, the layer and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RULES_DIR = Path(__file__).resolve().parent / "rules"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Junction(_Strict):
    """Disc around the point where the named admin units meet (e.g. 木里 at 天峻/刚察/祁连)."""

    counties: list[str] = Field(min_length=2)
    radius_m: float = Field(gt=0)


class AreaSpec(_Strict):
    """One area expression; see the header of the rule files for the evaluation order."""

    province: bool = False
    counties: list[str] = []
    prefectures: list[str] = []
    in_basins: list[str] = []
    not_in_basins: list[str] = []
    min_elev_m: float | None = None
    max_elev_m: float | None = None
    minus: list[str] = []
    near_junction: Junction | None = None

    @model_validator(mode="after")
    def _has_base(self) -> AreaSpec:
        if not (self.province or self.counties or self.prefectures):
            raise ValueError("an area needs `province: true`, `counties` or `prefectures`")
        return self


Area = AreaSpec | list[AreaSpec]


class Point(_Strict):
    lon: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)
    county: str
    area_km2: float | None = None
    note: str | None = None


class Reference(_Strict):
    metric: Literal["area_km2"] = "area_km2"
    expected: float
    source: str | None = None
    note: str | None = None


class Tune(_Strict):
    """A parameter either fixed (``fixed: min_elev_m, value: 4600``) or tuned by bisection."""

    tune: Literal["min_elev_m", "min_slope_deg", "lake_buffer_m"] | None = None
    fixed: Literal["min_elev_m", "min_slope_deg", "lake_buffer_m"] | None = None
    value: float | None = None
    target_km2: float | None = None
    share: float | None = Field(default=None, gt=0, lt=1)
    share_note: str | None = None
    near_water_m: float | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> Tune:
        if (self.tune is None) == (self.fixed is None):
            raise ValueError("give exactly one of `tune:` or `fixed:`")
        if self.fixed is not None and self.value is None:
            raise ValueError("`fixed:` needs `value:`")
        if self.tune is not None and self.target_km2 is None and self.share is None:
            raise ValueError("`tune:` needs `target_km2:` or `share:`")
        return self


class LakeBuffer(_Strict):
    lake: str
    within_basin: str | None = None
    distance_m: float | None = None


class LayerBase(_Strict):
    id: str = Field(pattern=r"^(qh|gz)_[a-z0-9_]+$")
    kind: str
    title: str
    title_en: str
    cite: str
    status: Literal["existing", "candidate", "planned"] = "existing"
    reference: Reference | None = None


class ZoneFeature(_Strict):
    name: str
    zone_class: str | None
    why: str
    area: Area
    subtract_layers: list[str] = []
    subtract_lakes: bool = False


class ZonesLayer(LayerBase):
    builder: Literal["zones"]
    features: list[ZoneFeature]


class ParkPart(_Strict):
    part: str | None
    target_km2: float | None = None
    area: Area | None = None
    lake_buffer: LakeBuffer | None = None


class Park(_Strict):
    park: str
    park_status: Literal["established", "candidate", "planned"]
    status_note: str | None = None
    suffix: str = ""
    cite: str
    parts: list[ParkPart]
    extent: Tune
    core: Tune


class ParksLayer(LayerBase):
    builder: Literal["parks"]
    parks: list[Park]


class Zoning(_Strict):
    core_m: float = Field(gt=0)
    buffer_m: float = Field(gt=0)


class Reserve(_Strict):
    name: str
    reserve_level: Literal["national", "provincial"]
    why: str | None = None
    area: Area | None = None
    lake_buffer: LakeBuffer | None = None
    place: str | None = None
    max_elev_m: float | None = None
    zoning: Zoning
    reference: Reference | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Reserve:
        if sum(x is not None for x in (self.area, self.lake_buffer, self.place)) != 1:
            raise ValueError("a reserve needs exactly one of `area`, `lake_buffer`, `place`")
        return self


class ReservesLayer(LayerBase):
    builder: Literal["reserves"]
    reserves: list[Reserve]


class UrbanTown(_Strict):
    town: str
    radius_m: float = Field(gt=0)
    max_rise_m: float = Field(gt=0)
    name: str | None = None
    counties: list[str] = []


class UrbanLayer(LayerBase):
    builder: Literal["urban"]
    towns: list[UrbanTown]


class IndustrialPark(_Strict):
    name: str
    town: str
    area_km2: float = Field(gt=0)
    zone_class: Literal["工业园区", "化工园区"]
    why: str


class IndustrialLayer(LayerBase):
    builder: Literal["industrial"]
    parks: list[IndustrialPark]


class RedlineLayer(LayerBase):
    builder: Literal["redline"]
    include_layers: list[str]
    include_park_status: list[str] = ["established", "candidate"]
    lakes_buffer_m: float
    river_buffer_m: dict[str, float]
    high_land: Tune
    exclude_layers: list[str]


class GeneralEcoLayer(LayerBase):
    builder: Literal["general_eco"]
    why: str
    area: Area
    high_land: Tune
    include_layers: list[str] = []
    exclude_layers: list[str]


class Grade(_Strict):
    zone_class: Literal["一级保护区", "二级保护区", "准保护区"]
    along_m: float
    width_m: float
    well_radius_m: float


class WaterSite(_Strict):
    """A named source modelled around a town (for lakes the base map does not carry)."""

    name: str
    town: str
    disc: bool = False


class DrinkingWaterLayer(LayerBase):
    builder: Literal["drinking_water"]
    towns: list[str] = []
    sites: list[WaterSite] = []
    max_water_distance_m: float
    grades: list[Grade] = Field(min_length=3, max_length=3)


class BasinEdge(_Strict):
    basin: str
    county: str


class Corridor(_Strict):
    name: str
    why: str
    width_m: float
    shared_boundary: list[str] | None = None
    basin_edge: BasinEdge | None = None
    river: str | None = None
    towns: list[str] | None = None
    max_elev_m: float | None = None


class CorridorsLayer(LayerBase):
    builder: Literal["corridors"]
    corridors: list[Corridor]


class ControlUnitsLayer(LayerBase):
    builder: Literal["control_units"]
    priority_layers: list[str]
    key_layers: list[str]


Layer = Annotated[
    ZonesLayer
    | ParksLayer
    | ReservesLayer
    | UrbanLayer
    | IndustrialLayer
    | RedlineLayer
    | GeneralEcoLayer
    | DrinkingWaterLayer
    | CorridorsLayer
    | ControlUnitsLayer,
    Field(discriminator="builder"),
]


class RuleFile(_Strict):
    version: Literal[1]
    region: str
    as_of: str
    simplify_m: float = Field(gt=0)
    dem_simplify_m: float = Field(gt=0)
    dem_sieve_cells: int = Field(ge=0)
    towns: dict[str, Point]
    places: dict[str, Point] = {}
    layers: list[Layer]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleFile:
        ids = [layer.id for layer in self.layers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate layer ids {dupes}")
        return self


def load_rules(region: str, path: Path | None = None) -> RuleFile:
    """Load and validate one region's rule file; errors name the file and the failing field."""
    path = path or RULES_DIR / f"illustrative_{region}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read rule file: {exc}") from exc
    try:
        return RuleFile.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid rules:\n{exc}") from exc
