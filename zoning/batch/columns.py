"""Recognise the roles of a batch table's headers (coordinates, WKT, project type, CRS).

Why a data file: the header spellings people use (经度, lng, 东坐标, X坐标 …) are domain knowledge
that grows with every new spreadsheet; keeping them in ``data/columns.yaml`` lets that list grow
without touching code. The file is validated on load so a typo fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from zoning.errors import ZoningError

ALIASES_PATH = Path(__file__).with_name("data") / "columns.yaml"

# Units and decorations people put in headers: "经度(°)", "X坐标（m）", "lon [deg]".
_DECORATION = re.compile(r"[\(\（\[【].*?[\)\）\]】]|[\s_\-:：.]")


class ColumnAliases(BaseModel):
    """The validated alias file: one list of header spellings per role."""

    model_config = ConfigDict(extra="forbid")

    lon: list[str]
    lat: list[str]
    x: list[str]
    y: list[str]
    wkt: list[str]
    project_type: list[str]
    crs: list[str]
    crs_names: dict[str, str]

    @field_validator("lon", "lat", "x", "y", "wkt", "project_type", "crs")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value or any(not str(v).strip() for v in value):
            raise ValueError("each role needs a non-empty list of non-blank header names")
        return [normalise_header(v) for v in value]

    @field_validator("crs_names")
    @classmethod
    def _crs_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {normalise_header(k): str(v) for k, v in value.items()}


def normalise_header(name: object) -> str:
    """Lower-case and strip units/brackets/spaces so '经度（°）' and 'Lon ' both compare equal."""
    return _DECORATION.sub("", str(name)).lower()


@lru_cache(maxsize=1)
def load_aliases(path: Path = ALIASES_PATH) -> ColumnAliases:
    """Read and validate the alias file (cached: it is read once per process)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ColumnAliases.model_validate(raw)
    except Exception as exc:  # yaml and pydantic errors both mean: fix the file
        raise ZoningError(
            f"column alias file {path} is invalid: {exc}",
            field="columns.yaml",
            hint="each role (lon, lat, x, y, wkt, project_type, crs) needs a list of header names",
        ) from exc


@dataclass(frozen=True)
class ColumnRoles:
    """Which input column plays which role (``None`` when absent)."""

    lon: str | None = None
    lat: str | None = None
    wkt: str | None = None
    project_type: str | None = None
    crs: str | None = None
    coords_are_xy: bool = False

    @property
    def has_points(self) -> bool:
        return self.lon is not None and self.lat is not None


def detect_roles(columns: list[str], aliases: ColumnAliases | None = None) -> ColumnRoles:
    """Map headers to roles; raises a ZoningError naming the headers seen when none is usable.

    Geographic names (经度/纬度, lon/lat) win over planar ones (x/y, 东坐标/北坐标); a WKT column
    is used only when there is no coordinate pair.
    """
    aliases = aliases or load_aliases()
    norm = {c: normalise_header(c) for c in columns}

    def find(role: list[str]) -> str | None:
        for alias in role:  # alias order is the preference order
            for col, n in norm.items():
                if n == alias:
                    return col
        return None

    lon, lat = find(aliases.lon), find(aliases.lat)
    xy = False
    if lon is None or lat is None:
        x, y = find(aliases.x), find(aliases.y)
        if x is not None and y is not None:
            lon, lat, xy = x, y, True
        else:
            lon = lat = None
    wkt = None if lon is not None else find(aliases.wkt)
    roles = ColumnRoles(
        lon=lon,
        lat=lat,
        wkt=wkt,
        project_type=find(aliases.project_type),
        crs=find(aliases.crs),
        coords_are_xy=xy,
    )
    if not roles.has_points and roles.wkt is None:
        raise ZoningError(
            f"no coordinate or geometry columns found among {list(columns)!r}",
            field="columns",
            hint="name the columns 经度/纬度 (or lon/lat, x/y, 东坐标/北坐标), or give a WKT column",
        )
    return roles
