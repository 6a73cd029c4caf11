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
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from layers.catalog import (
    CATALOG_FILE,
    Catalog,
    CatalogEntry,
    entry_files,
    read_catalog,
    sha256_file,
    write_catalog,
)
from layers.context import COVERAGE_DIR, LAYERS_DIR, LayerContext
from layers.errors import CatalogError, LayerError, SourceReadError
from layers.manifest import LayerManifest, LayerSpec, load_manifests
from layers.report import REPORT_FILE, BuildReport, LayerReport

#: libraries whose version changes the output bytes (pyogrio and rasterio wheels pin their GDAL).
_LIBRARIES = ("geopandas", "pyogrio", "pyarrow", "shapely", "pyproj", "rasterio", "numpy", "pandas")

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What a build produced (already swapped into ``out_dir``)."""

    out_dir: Path
    catalog: Catalog
    report: BuildReport


def default_manifests(raw_dir: Path | str) -> list[Path]:
    """Every ``<raw_dir>/*/manifest.yaml``, sorted (so build order, and output, are stable)."""
    return sorted(Path(raw_dir).glob("*/manifest.yaml"))


def build(
    manifests: list[Path], out_dir: Path | str, progress: Progress | None = None, force: bool = False
) -> BuildResult:
    """Build every layer of ``manifests`` into ``out_dir``; on error ``out_dir`` is left untouched.

    ``force`` rebuilds every layer even when its fingerprint is unchanged.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).absolute()
    if not manifests:
        raise LayerError("no manifests given and none found (expected data/raw/<region>/manifest.yaml)")
    loaded = load_manifests(list(manifests))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir, progress):
        return _build_locked(loaded, out_dir, started, progress, force)


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
    loaded: list[LayerManifest], out_dir: Path, started: float, progress: Progress | None, force: bool
) -> BuildResult:
    previous = _previous_build(out_dir)
    reusable = {} if force else previous
    work = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / LAYERS_DIR).mkdir(parents=True)
    (work / COVERAGE_DIR).mkdir()
    ctx = LayerContext(work)
    try:
        entries: list[CatalogEntry] = []
        report = BuildReport(manifests=[str(m.file) for m in loaded])
        for manifest in loaded:
            for spec in manifest.layers:
                fp = fingerprint(manifest, spec)
                reused = _reuse(reusable, spec.id, fp, out_dir, work)
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
    files = entry_files(entry)
    for rel, version in files:
        src = out_dir / rel
        if not src.exists() or sha256_file(src) != version:
            return None
    for rel, _ in files:
        if not (work / rel).exists():
            shutil.copy2(out_dir / rel, work / rel)
    return entry, old_report.model_copy(update={"outcome": "unchanged", "seconds": 0.0})


# ----------------------------------------------------------------------------- one layer


def _build_layer_guarded(manifest: LayerManifest, spec: LayerSpec, ctx: LayerContext) -> tuple[CatalogEntry, LayerReport]:
    """Build one layer; unexpected failures still name the layer, the file and the cause."""
    from layers.process import build_layer  # heavy imports only when a layer must be built

    try:
        return build_layer(manifest, spec, ctx)
    except LayerError:
        raise
    except Exception as exc:
        raise SourceReadError(spec.id, str(spec.path), f"{type(exc).__name__}: {exc}") from exc


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
        shutil.move(child, out_dir / child.name)  # may cross devices (the volume's mount point)
    work.rmdir()


__all__ = ["CATALOG_FILE", "BuildResult", "build", "default_manifests", "fingerprint"]
