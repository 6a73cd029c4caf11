"""The processed-data catalog: one model for the CLI, the HTTP service and the engine.

``catalog.json`` is the only index of ``data/processed``; every consumer reads layers through it so
that checksums (``version``) are verified in one place and a corrupt or truncated file is refused
with a message naming it, instead of yielding silently wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from layers.errors import CatalogError

CATALOG_FILE = "catalog.json"
SCHEMA_VERSION = 1

Accuracy = Literal["authoritative", "approximate", "illustrative"]
Access = Literal["public", "restricted"]
GeometryType = Literal["polygon", "line", "point", "raster"]
Status = Literal["existing", "candidate", "planned"]


class ReferenceCheck(BaseModel):
    """A published figure the layer is compared against, and how far the build is from it."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["area_km2", "length_km", "feature_count"] = "area_km2"
    expected: float
    actual: float | None = None
    deviation_pct: float | None = None
    source: str | None = None
    note: str | None = None


class CatalogEntry(BaseModel):
    """One processed layer, as listed by ``zoning layers`` and ``GET /v1/layers``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    title: str
    title_en: str | None = None
    region: str
    geometry_type: GeometryType
    feature_count: int
    bbox: tuple[float, float, float, float] = Field(description="[minx, miny, maxx, maxy] lon/lat")
    total_area_km2: float | None = None
    total_length_km: float | None = None
    accuracy: Accuracy
    source: str
    derivation: str | None = None
    as_of: date | None = None
    access: Access = "public"
    status: Status = "existing"
    valid_from: date | None = None
    valid_to: date | None = None
    version: str = Field(description="sha256:<hex> of the written layer file")
    path: str = Field(description="layer file, relative to the data dir")
    coverage: str | None = Field(None, description="coverage polygon file, relative to the data dir")
    coverage_version: str | None = None
    pieces: str | None = Field(
        None, description="index file: large features cut into small pieces (layers/subdivide.py)"
    )
    pieces_version: str | None = None
    piece_vertices: int | None = Field(
        None, description="most vertices per piece; None: pieces were not built"
    )
    pieces_format: str | None = Field(
        None, description="how the pieces were cut (layers/subdivide.py), e.g. to rebuild stale ones"
    )
    outlines: str | None = Field(
        None, description="distance file: outlines of the features in a conformal plane "
        "(layers/outlines.py)"
    )
    outlines_version: str | None = None
    outlines_format: str | None = Field(None, description="how the outlines were made")
    outlines_plane: str | None = Field(None, description="PROJ string of the outlines' plane")
    fields: list[str] = Field(default_factory=list)
    reference: ReferenceCheck | None = None
    unit: str | None = Field(None, description="raster value unit, e.g. m")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    layers: list[CatalogEntry] = Field(default_factory=list)

    def get(self, layer_id: str) -> CatalogEntry | None:
        return next((entry for entry in self.layers if entry.id == layer_id), None)


def sha256_file(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes, streamed (layer files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def read_catalog(data_dir: Path | str) -> Catalog:
    """Read ``catalog.json``; a missing or malformed catalog raises ``CatalogError``."""
    path = Path(data_dir) / CATALOG_FILE
    if not path.exists():
        raise CatalogError(f"no catalog at {path}: run `zoning build` first")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        return Catalog.model_validate(raw)
    except (ValueError, TypeError) as exc:
        raise CatalogError(f"catalog {path} is corrupt: {exc}") from exc


def write_catalog(data_dir: Path | str, catalog: Catalog) -> Path:
    """Write ``catalog.json`` deterministically (sorted layers, stable key order)."""
    path = Path(data_dir) / CATALOG_FILE
    ordered = Catalog(
        schema_version=catalog.schema_version,
        layers=sorted(catalog.layers, key=lambda e: (e.region, e.id)),
    )
    text = json.dumps(ordered.model_dump(mode="json"), ensure_ascii=False, indent=2)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def entry_files(entry: CatalogEntry, *, on_demand: bool = True) -> list[tuple[str, str]]:
    """(relative path, checksum) of every file a layer consists of.

    ``on_demand=False`` leaves out the files only some jobs read (the outlines, read by
    nearest-only batches), which are verified when they are read (``verify_file``) rather than
    at every start-up of the service.
    """
    files = [(entry.path, entry.version)]
    if entry.coverage and entry.coverage_version:
        files.append((entry.coverage, entry.coverage_version))
    if entry.pieces and entry.pieces_version:
        files.append((entry.pieces, entry.pieces_version))
    if on_demand and entry.outlines and entry.outlines_version:
        files.append((entry.outlines, entry.outlines_version))
    return files


def verify_catalog(data_dir: Path | str, catalog: Catalog | None = None) -> Catalog:
    """Check every layer and coverage file against its recorded checksum.

    Raises ``CatalogError`` naming the first file that is missing or does not match, so start-up
    (and reload) can refuse bad data rather than serve it.
    """
    data_dir = Path(data_dir)
    catalog = catalog or read_catalog(data_dir)
    files = [(entry, rel, expected) for entry in catalog.layers
             for rel, expected in entry_files(entry, on_demand=False)]
    # hashlib hashes without the GIL, so the files are hashed on every core; results are taken
    # in catalog order, so the error names the first bad file as a serial check would
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for done in [pool.submit(verify_file, data_dir, *file) for file in files]:
            done.result()
    return catalog


def verify_file(data_dir: Path, entry: CatalogEntry, rel: str, expected: str) -> None:
    """``CatalogError`` naming the layer and the file unless it exists with checksum ``expected``."""
    file = data_dir / rel
    if not file.exists():
        raise CatalogError(f"layer '{entry.id}': file {file} is missing")
    actual = sha256_file(file)
    if actual != expected:
        raise CatalogError(
            f"layer '{entry.id}': file {file} does not match the catalog checksum "
            f"(expected {expected[:19]}…, found {actual[:19]}…): rebuild with `zoning build`"
        )
