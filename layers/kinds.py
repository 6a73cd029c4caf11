"""Layer kinds and canonical zone classes, loaded from ``layers/kinds.yaml``.

Why a data file and a lookup: official data arrives with each bureau's own class labels
("核心保护区", "核心区", "1" …). Rules select zones by canonical ``(kind, zone_class)`` ids, so the
build translates every label once, here, through the aliases in ``kinds.yaml``; nothing downstream
has to know how a source spelled a class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layers.errors import ManifestError

KINDS_FILE = Path(__file__).with_name("kinds.yaml")

KindGeometry = Literal["polygon", "line", "point", "any", "raster"]


class ZoneClass(BaseModel):
    """One canonical class of a kind: its Chinese label and the source spellings that mean it."""

    model_config = ConfigDict(extra="forbid")

    zh: str
    aliases: list[str] = Field(default_factory=list)


class KindSpec(BaseModel):
    """A layer kind: what geometry the build expects and which zone classes it knows."""

    model_config = ConfigDict(extra="forbid")

    title_zh: str
    geometry: KindGeometry
    containment: bool = Field(
        False,
        description="units partition the land (admin, basins): screening reports which units "
        "contain the site, with shares, instead of listing them as nearby zones",
    )
    classes: dict[str, ZoneClass] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _labels_unambiguous(self) -> KindSpec:
        # One label must never point at two classes, or the mapping would depend on dict order.
        seen: dict[str, str] = {}
        for class_id, zc in self.classes.items():
            for label in {class_id, zc.zh, *zc.aliases}:
                other = seen.setdefault(_norm(label), class_id)
                if other != class_id:
                    raise ValueError(
                        f"label {label!r} is used by both classes {other!r} and {class_id!r}"
                    )
        return self

    def lookup(self) -> dict[str, str]:
        """``{normalised label: canonical class id}`` over ids, Chinese labels and aliases."""
        table: dict[str, str] = {}
        for class_id, zc in self.classes.items():
            for label in (class_id, zc.zh, *zc.aliases):
                table[_norm(label)] = class_id
        return table


class KindsFile(BaseModel):
    """The whole ``kinds.yaml``."""

    model_config = ConfigDict(extra="forbid")

    version: int
    kinds: dict[str, KindSpec]

    @property
    def containment_kinds(self) -> frozenset[str]:
        """Kinds whose units partition the land (``containment: true``)."""
        return frozenset(k for k, spec in self.kinds.items() if spec.containment)

    def get(self, kind: str) -> KindSpec:
        """The spec of ``kind``; an unknown kind raises ``ManifestError`` listing the valid ones."""
        try:
            return self.kinds[kind]
        except KeyError:
            raise ManifestError(
                f"unknown layer kind {kind!r}; valid kinds: {', '.join(sorted(self.kinds))}"
            ) from None

    def canonical_class(self, kind: str, value: object, class_map: dict[str, str] | None = None) -> str | None:
        """The canonical class id for a source value, or ``None`` when it is not known.

        The manifest's ``class_map`` wins over the aliases, so a GIS officer can fix a bureau's
        idiosyncratic label without editing ``kinds.yaml``.

        >>> load_kinds().canonical_class("drinking_water_source", "一级保护区")
        'grade1'
        >>> load_kinds().canonical_class("control_unit", " 优先保护 ")
        'priority_protection'
        """
        if value is None:
            return None
        label = _norm(str(value))
        if class_map:
            for src, target in class_map.items():
                if _norm(src) == label:
                    return target
        return self.get(kind).lookup().get(label)


def _norm(label: str) -> str:
    """Compare labels without surrounding blanks, full-width spaces or letter case."""
    return label.replace("\u3000", " ").strip().casefold()


@lru_cache(maxsize=4)
def load_kinds(path: Path | str = KINDS_FILE) -> KindsFile:
    """Load and validate ``kinds.yaml``; errors name the file and the offending entry."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read kinds file {path}: {exc}") from exc
    try:
        return KindsFile.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(f"kinds file {path} is invalid: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"
