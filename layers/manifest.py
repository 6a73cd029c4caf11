"""Layer manifests (``data/raw/<region>/manifest.yaml``): schema, validation and loading.

The manifest is the GIS officer's interface: swapping a bundled layer for official data means
editing it, so every mistake must be caught on load with a message naming the manifest file, the
layer id and the field (and, where it helps, the fix), never half-way through a build.
Keys are documented in ``docs/data.md``; the schema is the contract in interface.md plus the team's
agreed extensions.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import ManifestError
from layers.kinds import load_kinds

ID_PATTERN = r"^[a-z0-9_]+$"
RASTER_SUFFIXES = (".tif", ".tiff")

Kind = StrEnum("Kind", {k: k for k in load_kinds().kinds})  # type: ignore[misc]
"""Closed set of layer kinds, taken from ``layers/kinds.yaml`` (the single source of truth)."""


class Accuracy(StrEnum):
    authoritative = "authoritative"
    approximate = "approximate"
    illustrative = "illustrative"


class Access(StrEnum):
    public = "public"
    restricted = "restricted"


class Status(StrEnum):
    existing = "existing"
    candidate = "candidate"
    planned = "planned"


class ManifestReference(BaseModel):
    """A published figure to compare the built layer with (e.g. Qinghai red line 29.27万 km²)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["area_km2", "length_km", "feature_count"] = "area_km2"
    expected: float = Field(gt=0)
    source: str | None = None
    note: str | None = None


def _resolve(value: Any, info: ValidationInfo) -> Path | None:
    """Resolve a path relative to the manifest's folder (passed in the validation context)."""
    if value is None or value == "":
        return None
    base = Path((info.context or {}).get("base_dir", "."))
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else (base / path)


class LayerSpec(BaseModel):
    """One layer entry of a manifest."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    id: str = Field(pattern=ID_PATTERN)
    kind: Kind  # type: ignore[valid-type]
    title: str = Field(min_length=1)
    title_en: str | None = None
    path: Path
    layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    id_field: str | None = None
    name_field: str | None = None
    class_field: str | None = None
    class_map: dict[str, str] = Field(default_factory=dict)
    code_field: str | None = None
    defaults: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    accuracy: Accuracy
    source: str = Field(min_length=1)
    derivation: str | None = None
    as_of: date | None = None
    access: Access = Access.public
    status: Status = Status.existing
    valid_from: date | None = None
    valid_to: date | None = None
    coverage: Path | None = None
    reference: ManifestReference | None = None
    unit: str | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("path", "coverage", mode="before")
    @classmethod
    def _relative_to_manifest(cls, value: Any, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @field_validator("crs")
    @classmethod
    def _crs_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            CRS.from_user_input(value)
        except CRSError as exc:
            raise ValueError(
                f"cannot parse CRS {value!r} ({exc}); use an authority code such as EPSG:4521"
            ) from None
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}; e.g. gbk, gb18030, utf-8") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LayerSpec:
        kind = load_kinds().get(self.kind.value)
        is_raster_path = self.path.suffix.lower() in RASTER_SUFFIXES
        if kind.geometry == "raster" and not is_raster_path:
            raise ValueError(f"path: kind {self.kind.value!r} needs a GeoTIFF (.tif), got {self.path.name}")
        if kind.geometry != "raster" and is_raster_path:
            raise ValueError(f"kind: a GeoTIFF source needs kind 'raster', not {self.kind.value!r}")
        unknown = sorted(set(self.class_map.values()) - set(kind.classes))
        if unknown:
            valid = ", ".join(sorted(kind.classes)) or "(this kind has no classes)"
            raise ValueError(
                f"class_map: {unknown} are not classes of kind {self.kind.value!r}; valid: {valid}"
            )
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(f"valid_from {self.valid_from} is after valid_to {self.valid_to}")
        return self

    @property
    def crs_obj(self) -> CRS | None:
        return CRS.from_user_input(self.crs) if self.crs else None

    @property
    def geometry(self) -> str:
        """The geometry family the kind expects: polygon | line | point | any | raster."""
        return load_kinds().get(self.kind.value).geometry

    def fingerprint_text(self) -> str:
        """Canonical text of the entry as written in the manifest (for skip-unchanged)."""
        return json.dumps(self._raw, sort_keys=True, ensure_ascii=False, default=str)


class LayerManifest(BaseModel):
    """One region's manifest."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    title_en: str | None = None
    coverage: Path | None = None
    layers: list[LayerSpec] = Field(min_length=1)

    _file: Path = PrivateAttr(default=Path("manifest.yaml"))

    @field_validator("coverage", mode="before")
    @classmethod
    def _relative_to_manifest(cls, value: Any, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @property
    def file(self) -> Path:
        return self._file

    def coverage_for(self, spec: LayerSpec) -> Path | None:
        """The coverage polygon file of a layer: its own, else the region's default."""
        return spec.coverage or self.coverage

    def digest(self) -> str:
        """Short digest of the manifest's region-level settings (part of every fingerprint)."""
        text = json.dumps(
            {"region": self.region, "coverage": str(self.coverage) if self.coverage else None},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_manifest(path: Path | str) -> LayerManifest:
    """Read and validate one manifest; errors name the file, the layer id and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"manifest {path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"manifest {path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"manifest {path}: expected a mapping with 'region' and 'layers'")
    try:
        manifest = LayerManifest.model_validate(raw, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ManifestError(_describe(path, raw, exc)) from exc
    manifest._file = path
    raw_layers = raw.get("layers") or []
    for spec, raw_entry in zip(manifest.layers, raw_layers, strict=True):
        spec._raw = dict(raw_entry)
    _check_unique(manifest.layers, {}, path)
    return manifest


def load_manifests(paths: list[Path] | list[str]) -> list[LayerManifest]:
    """Load several manifests; a layer id used twice (in any of them) is an error naming both."""
    manifests = [load_manifest(p) for p in paths]
    seen: dict[str, Path] = {}
    regions: dict[str, Path] = {}
    for m in manifests:
        other = regions.setdefault(m.region, m.file)
        if other != m.file:
            raise ManifestError(f"manifest {m.file}: region {m.region!r} is also defined in {other}")
        _check_unique(m.layers, seen, m.file)
    return manifests


def _check_unique(layers: list[LayerSpec], seen: dict[str, Path], file: Path | None = None) -> None:
    local: set[str] = set()
    for spec in layers:
        if spec.id in local:
            raise ManifestError(f"manifest {file or ''}: layer id {spec.id!r} is used twice".strip())
        local.add(spec.id)
        if file is not None:
            other = seen.setdefault(spec.id, file)
            if other != file:
                raise ManifestError(
                    f"manifest {file}: layer id {spec.id!r} is already used in {other}; "
                    "ids must be unique across all regions (prefix them, e.g. qh_ / gz_)"
                )


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """Turn pydantic's first error into 'manifest F: layer 'id': field 'x': message'."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    where = f"manifest {path}"
    if len(loc) >= 2 and loc[0] == "layers" and isinstance(loc[1], int):
        entries = raw.get("layers") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else {}
        layer_id = entry.get("id") if isinstance(entry, dict) else None
        where += f": layer {layer_id!r}" if layer_id else f": layers[{loc[1]}]"
        loc = loc[2:]
    if loc:
        where += f": field {'.'.join(str(p) for p in loc)!r}"
    if err["type"] == "extra_forbidden":
        msg = "unknown key (see docs/data.md for the manifest keys)"
    elif err["type"] == "enum":
        msg = f"{err.get('input')!r} is not allowed; {msg}"
    return f"{where}: {msg}"
