"""``zoning build``: manifests in, ``data/processed`` out (layers, coverage, catalog, report).

Design choices, and why:
- **All or nothing.** Everything is written into a temporary folder beside the output and swapped
  in at the end; any error removes the temporary folder, so the service never sees a half-built
  ``data/processed`` and the previous build stays intact.
- **Skip unchanged layers.** Each layer's fingerprint covers its manifest entry, the bytes of its
  source (and sidecar files) and coverage, and the build code and library versions. When it
  matches the previous build and the previous file still has its recorded checksum, the file is
  copied instead of rebuilt; the bytes (and so the version) are identical either way.
- **Determinism.** Row order is the source order, writers use fixed options (see ``write.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS

from layers.catalog import (
    CATALOG_FILE,
    Catalog,
    CatalogEntry,
    read_catalog,
    sha256_file,
    write_catalog,
)
from layers.errors import CatalogError, LayerError, SourceDataError, SourceReadError
from layers.manifest import LayerManifest, LayerSpec, load_manifests
from layers.measure import overlap_areas_m2, overlapping_pairs, union_area_m2
from layers.readers import RasterSource, VectorSource, read_source
from layers.repair import FAMILY_TYPES, repair_geometries
from layers.report import REPORT_FILE, BuildReport, LayerReport, reference_check
from layers.standardize import (
    STORAGE_CRS,
    check_in_china,
    measure,
    orient,
    source_feature_ids,
    standard_columns,
)
from layers.write import write_cog, write_geoparquet

LAYERS_DIR = "layers"
#: overlaps smaller than this (m²) are floating-point slivers along shared boundaries.
MIN_OVERLAP_M2 = 10.0
COVERAGE_DIR = "coverage"
_LIBRARIES = ("geopandas", "pyogrio", "pyarrow", "shapely", "pyproj", "rasterio", "numpy", "pandas")

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What a build produced (already swapped into ``out_dir``)."""

    out_dir: Path
    catalog: Catalog
    report: BuildReport


@dataclass
class _Context:
    """Per-build state shared by the layers: the temporary folder and the coverage cache."""

    work: Path
    coverage: dict[str, tuple[str, str]] = field(default_factory=dict)


def default_manifests(raw_dir: Path | str) -> list[Path]:
    """Every ``<raw_dir>/*/manifest.yaml``, sorted (so build order, and output, are stable)."""
    return sorted(Path(raw_dir).glob("*/manifest.yaml"))


def build(manifests: list[Path], out_dir: Path | str, progress: Progress | None = None) -> BuildResult:
    """Build every layer of ``manifests`` into ``out_dir``; on error ``out_dir`` is left untouched."""
    started = time.perf_counter()
    out_dir = Path(out_dir).absolute()
    if not manifests:
        raise LayerError("no manifests given and none found (expected data/raw/<region>/manifest.yaml)")
    loaded = load_manifests(list(manifests))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir, progress):
        return _build_locked(loaded, out_dir, started, progress)


@contextmanager
def _exclusive(out_dir: Path, progress: Progress | None) -> Iterator[None]:
    """One build per output folder at a time (``make serve`` and ``make test`` may both build)."""
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                progress(f"waiting for another build of {out_dir} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_locked(
    loaded: list[LayerManifest], out_dir: Path, started: float, progress: Progress | None
) -> BuildResult:
    previous = _previous_build(out_dir)
    work = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / LAYERS_DIR).mkdir(parents=True)
    (work / COVERAGE_DIR).mkdir()
    ctx = _Context(work)
    try:
        entries: list[CatalogEntry] = []
        report = BuildReport(manifests=[str(m.file) for m in loaded])
        for manifest in loaded:
            for spec in manifest.layers:
                fp = fingerprint(manifest, spec)
                reused = _reuse(previous, spec.id, fp, out_dir, work)
                if reused is not None:
                    entry, layer_report = reused
                    if progress:
                        progress(f"{spec.id}: unchanged")
                else:
                    if progress:
                        progress(f"{spec.id}: building from {spec.path}")
                    entry, layer_report = _build_layer_guarded(manifest, spec, ctx)
                    layer_report.fingerprint = fp
                entries.append(entry)
                report.layers.append(layer_report)
        catalog = Catalog(layers=entries)
        report.removed = sorted(set(previous) - {e.id for e in entries})
        write_catalog(work, catalog)
        report.seconds = round(time.perf_counter() - started, 2)
        report.write(work)
        _swap(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuildResult(out_dir, read_catalog(out_dir), report)


# ----------------------------------------------------------------------------- fingerprints


@lru_cache(maxsize=1)
def code_version() -> str:
    """Digest of the build code, ``kinds.yaml`` and the libraries that shape the output bytes."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), here / "kinds.yaml"]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for lib in _LIBRARIES:
        digest.update(f"{lib}={metadata.version(lib)}".encode())
    digest.update(f"gdal={pyogrio.__gdal_version_string__}".encode())
    return digest.hexdigest()


def fingerprint(manifest: LayerManifest, spec: LayerSpec) -> str:
    """Fingerprint of everything a layer's output depends on."""
    digest = hashlib.sha256()
    digest.update(code_version().encode())
    digest.update(manifest.region.encode())
    digest.update(spec.fingerprint_text().encode())
    for path in (spec.path, manifest.coverage_for(spec)):
        for file in _source_files(path):
            digest.update(file.name.encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return f"sha256:{digest.hexdigest()}"


def _source_files(path: Path | None) -> list[Path]:
    """The files a source consists of: a Shapefile's sidecars, a folder's content, or itself."""
    if path is None or not path.exists():
        return []
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return sorted(p for p in path.parent.glob(f"{path.stem}.*") if p.is_file() and p.stem == path.stem)


def _previous_build(out_dir: Path) -> dict[str, tuple[CatalogEntry, LayerReport]]:
    """Entries and reports of the build currently in ``out_dir`` (empty if none or unreadable)."""
    try:
        catalog = read_catalog(out_dir)
        raw = json.loads((out_dir / REPORT_FILE).read_text(encoding="utf-8"))
        report = BuildReport.model_validate(raw)
    except (CatalogError, OSError, ValueError):
        return {}
    reports = {lr.id: lr for lr in report.layers}
    return {e.id: (e, reports[e.id]) for e in catalog.layers if e.id in reports}


def _reuse(
    previous: dict[str, tuple[CatalogEntry, LayerReport]], layer_id: str, fp: str, out_dir: Path, work: Path
) -> tuple[CatalogEntry, LayerReport] | None:
    """Copy an unchanged layer (and its coverage) from the previous build, if it is intact."""
    if layer_id not in previous:
        return None
    entry, old_report = previous[layer_id]
    if old_report.fingerprint != fp:
        return None
    files = [(entry.path, entry.version)]
    if entry.coverage and entry.coverage_version:
        files.append((entry.coverage, entry.coverage_version))
    for rel, version in files:
        src = out_dir / rel
        if not src.exists() or sha256_file(src) != version:
            return None
    for rel, _ in files:
        if not (work / rel).exists():
            shutil.copy2(out_dir / rel, work / rel)
    return entry, old_report.model_copy(update={"outcome": "unchanged", "seconds": 0.0})


# ----------------------------------------------------------------------------- one layer


def _build_layer_guarded(manifest: LayerManifest, spec: LayerSpec, ctx: _Context) -> tuple[CatalogEntry, LayerReport]:
    """Build one layer; unexpected failures still name the layer, the file and the cause."""
    try:
        return build_layer(manifest, spec, ctx)
    except LayerError:
        raise
    except Exception as exc:
        raise SourceReadError(spec.id, str(spec.path), f"{type(exc).__name__}: {exc}") from exc


def build_layer(manifest: LayerManifest, spec: LayerSpec, ctx: _Context) -> tuple[CatalogEntry, LayerReport]:
    """Read, repair, standardise and write one layer; returns its catalog entry and report."""
    started = time.perf_counter()
    source = read_source(spec)
    if isinstance(source, RasterSource):
        entry, report = _build_raster(manifest, spec, source, ctx)
    else:
        entry, report = _build_vector(manifest, spec, source, ctx)
    report.seconds = round(time.perf_counter() - started, 3)
    return entry, report


def _build_vector(
    manifest: LayerManifest, spec: LayerSpec, source: VectorSource, ctx: _Context
) -> tuple[CatalogEntry, LayerReport]:
    frame = source.frame
    notes = list(source.notes)
    warnings: list[str] = list(source.warnings)
    features_in = len(frame)
    source_crs = _crs_label(frame.crs)
    ids = source_feature_ids(spec, frame)
    source_bounds = _bounds(frame)
    frame = frame.to_crs(STORAGE_CRS) if not CRS.from_user_input(frame.crs).equals(CRS(STORAGE_CRS)) else frame
    if source_crs != STORAGE_CRS:
        notes.append(f"reprojected from {source_crs} to {STORAGE_CRS}")
    geoms = np.asarray(frame.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if present.any():
        check_in_china(spec, _bounds(frame), source_crs, source_bounds)
    family = _family(spec, geoms[present])
    geoms, keep, records = repair_geometries(geoms, ids, family)
    if not keep.any():
        raise SourceDataError(spec.id, "path", f"no usable {family} features in {source.file} ({features_in} read)")
    if spec.geometry == "any":
        family = _family(spec, geoms[keep], strict=True)
    attrs = standard_columns(spec, frame.drop(columns=frame.geometry.name), ids, family, warnings)
    attrs = attrs[keep].reset_index(drop=True)
    kept = orient(geoms[keep], family)
    measure_col, values = measure(kept, family)
    if measure_col is not None and values is not None:
        attrs.insert(attrs.columns.get_loc("derivation") + 1, measure_col, values)
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(kept, crs=STORAGE_CRS), crs=STORAGE_CRS)
    rel = f"{LAYERS_DIR}/{spec.id}.parquet"
    write_geoparquet(out, ctx.work / rel)
    coverage, coverage_version = _coverage(manifest, spec, ctx)

    total_area, total_length = _totals(kept, family, values, out["feature_id"].to_numpy(), warnings)
    actual = {"area_km2": total_area, "length_km": total_length, "feature_count": float(len(out))}
    report = LayerReport(
        id=spec.id, region=manifest.region, kind=spec.kind.value, accuracy=spec.accuracy.value,
        source_file=source.file, features_in=features_in, features_out=len(out),
        repairs=[r.as_dict() for r in records if r.action == "repaired"],
        drops=[r.as_dict() for r in records if r.action == "dropped"],
        warnings=warnings, notes=notes, derivation=spec.derivation,
    )
    report.reference = _reference(spec, actual)
    entry = CatalogEntry(
        **_entry_common(manifest, spec),
        geometry_type=family,  # type: ignore[arg-type]
        feature_count=len(out),
        bbox=tuple(float(v) for v in shapely.total_bounds(kept)),  # type: ignore[arg-type]
        total_area_km2=round(total_area, 3) if total_area is not None else None,
        total_length_km=round(total_length, 3) if total_length is not None else None,
        version=sha256_file(ctx.work / rel),
        path=rel,
        coverage=coverage,
        coverage_version=coverage_version,
        fields=[c for c in out.columns if c != out.geometry.name],
        reference=report.reference,
    )
    report.version = entry.version
    return entry, report


def _totals(
    kept: np.ndarray, family: str, values: np.ndarray | None, ids: np.ndarray, warnings: list[str]
) -> tuple[float | None, float | None]:
    """Layer totals: area covered (overlaps once, overlaps reported) or summed line length."""
    if values is None:
        return None, None
    if family == "line":
        return None, float(values.sum())
    left, right = overlapping_pairs(kept)
    shared_m2 = overlap_areas_m2(kept, (left, right))
    # Slivers below the data's positional accuracy are numerical noise, not overlaps.
    real = shared_m2 >= MIN_OVERLAP_M2
    pairs = (left[real], right[real])
    warnings += _overlap_warning(ids, pairs, shared_m2[real] / 1e6)
    return union_area_m2(kept, values * 1e6, pairs) / 1e6, None


def _build_raster(
    manifest: LayerManifest, spec: LayerSpec, source: RasterSource, ctx: _Context
) -> tuple[CatalogEntry, LayerReport]:
    notes = list(source.notes)
    rel = f"{LAYERS_DIR}/{spec.id}.tif"
    bounds = write_cog(source, ctx.work / rel, notes)
    check_in_china(spec, bounds, _crs_label(source.crs))
    coverage, coverage_version = _coverage(manifest, spec, ctx)
    report = LayerReport(
        id=spec.id, region=manifest.region, kind=spec.kind.value, accuracy=spec.accuracy.value,
        source_file=source.file, features_in=1, features_out=1, notes=notes, derivation=spec.derivation,
    )
    entry = CatalogEntry(
        **_entry_common(manifest, spec),
        geometry_type="raster",
        feature_count=1,
        bbox=bounds,
        version=sha256_file(ctx.work / rel),
        path=rel,
        coverage=coverage,
        coverage_version=coverage_version,
        unit=spec.unit,
    )
    report.version = entry.version
    return entry, report


def _entry_common(manifest: LayerManifest, spec: LayerSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "kind": spec.kind.value,
        "title": spec.title,
        "title_en": spec.title_en,
        "region": manifest.region,
        "accuracy": spec.accuracy.value,
        "source": spec.source,
        "derivation": spec.derivation,
        "as_of": spec.as_of,
        "access": spec.access.value,
        "status": spec.status.value,
        "valid_from": spec.valid_from,
        "valid_to": spec.valid_to,
    }


def _family(spec: LayerSpec, geoms: np.ndarray, strict: bool = False) -> str:
    """The layer's geometry family; a source of the wrong family is an error naming what it holds."""
    types = set(shapely.get_type_id(geoms).tolist()) - {7}
    found = {fam for fam, ids in FAMILY_TYPES.items() if types & set(ids)}
    expected = spec.geometry
    if expected != "any":
        if types and expected not in found:
            raise SourceDataError(
                spec.id, "kind", f"kind {spec.kind.value!r} expects {expected} geometries, the source holds {sorted(found)}"
            )
        return expected
    if len(found) == 1:
        return found.pop()
    if strict or len(found) > 1:
        raise SourceDataError(
            spec.id, "path", f"mixed geometry families {sorted(found)}; split them into one layer per family"
        )
    return "polygon"


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in frame.geometry.total_bounds)
    return minx, miny, maxx, maxy


def _overlap_warning(ids: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], shared_km2: np.ndarray) -> list[str]:
    """Overlapping features are legal but worth a look: a site there falls in both."""
    left, right = pairs
    if not len(left):
        return []
    worst = np.argsort(-shared_km2, kind="stable")[:3]
    examples = ", ".join(f"{ids[left[k]]} × {ids[right[k]]} ({shared_km2[k]:.3g} km²)" for k in worst)
    return [
        f"overlapping feature pairs: {len(left)} ({shared_km2.sum():.4g} km² in all; the layer's total "
        f"area counts it once), largest: {examples}"
    ]


def _reference(spec: LayerSpec, actual: dict[str, float | None]):  # type: ignore[no-untyped-def]
    ref = spec.reference
    if ref is None:
        return None
    value = actual.get(ref.metric)
    if value is None:
        raise SourceDataError(spec.id, "reference", f"metric {ref.metric!r} does not apply to this layer")
    return reference_check(ref.expected, value, ref.metric, spec.accuracy.value, ref.source, ref.note)


def _crs_label(crs: object) -> str:
    parsed = CRS.from_user_input(crs)
    code = parsed.to_epsg()
    return f"EPSG:{code}" if code else parsed.name


# ----------------------------------------------------------------------------- coverage


def _coverage(manifest: LayerManifest, spec: LayerSpec, ctx: _Context) -> tuple[str | None, str | None]:
    """Write the layer's coverage polygon once per distinct source; returns (rel path, version)."""
    path = manifest.coverage_for(spec)
    if path is None:
        return None, None
    key = str(path.resolve())
    if key not in ctx.coverage:
        ctx.coverage[key] = _write_coverage(spec, path, ctx.work)
    return ctx.coverage[key]


def _write_coverage(spec: LayerSpec, path: Path, work: Path) -> tuple[str, str]:
    if not path.exists():
        raise SourceReadError(spec.id, str(path), "coverage file does not exist (check `coverage:`)")
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:
        raise SourceReadError(spec.id, str(path), f"coverage: {exc}") from exc
    if frame.crs is None:
        raise SourceReadError(spec.id, str(path), "coverage file has no CRS; ship it with a .prj or use GeoPackage")
    geoms = np.asarray(frame.to_crs(STORAGE_CRS).geometry.array, dtype=object)
    union = shapely.union_all(shapely.make_valid(geoms[~shapely.is_missing(geoms)]))
    fixed, keep, _ = repair_geometries(np.array([union], dtype=object), np.array(["coverage"]), "polygon")
    if not keep[0]:
        raise SourceDataError(spec.id, "coverage", f"{path} holds no polygon")
    one = gpd.GeoDataFrame(geometry=gpd.GeoSeries(orient(fixed, "polygon"), crs=STORAGE_CRS))
    buffer = io.BytesIO()
    write_geoparquet(one, buffer)
    data = buffer.getvalue()
    rel = f"{COVERAGE_DIR}/{hashlib.sha256(data).hexdigest()[:16]}.parquet"
    (work / rel).write_bytes(data)
    return rel, f"sha256:{hashlib.sha256(data).hexdigest()}"


# ----------------------------------------------------------------------------- swap


def _swap(work: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``work`` (two renames); dotfiles such as .gitkeep are carried over."""
    if out_dir.exists():
        for keep in out_dir.glob(".*"):
            if keep.is_file() and not (work / keep.name).exists():
                shutil.copy2(keep, work / keep.name)
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(out_dir, old)
        except OSError:
            _replace_contents(work, out_dir)
            return
        os.replace(work, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, out_dir)


def _replace_contents(work: Path, out_dir: Path) -> None:
    """Fallback when ``out_dir`` cannot be renamed (e.g. a mounted volume): swap its contents."""
    for child in out_dir.iterdir():
        if child.name.startswith("."):
            continue
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    for child in work.iterdir():
        os.replace(child, out_dir / child.name)
    work.rmdir()


__all__ = ["CATALOG_FILE", "BuildResult", "build", "default_manifests", "fingerprint"]
