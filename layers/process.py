"""Building one layer: read, repair, standardise, measure, write; returns its catalog entry and report.

Kept apart from ``layers.build`` (orchestration: fingerprints, reuse, swap) so that a no-op
rebuild never imports GeoPandas, GDAL or rasterio: this module is imported only when a layer's
fingerprint has changed.
"""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS

from layers.catalog import CatalogEntry, ReferenceCheck, sha256_file
from layers.context import COVERAGE_DIR, LAYERS_DIR, LayerContext
from layers.errors import SourceDataError, SourceReadError
from layers.manifest import LayerManifest, LayerSpec
from layers.measure import overlap_areas_m2, overlapping_pairs, union_area_m2
from layers.outlines import write_outlines
from layers.readers import RasterSource, VectorSource, read_source
from layers.repair import FAMILY_TYPES, repair_geometries
from layers.report import LayerReport, reference_check
from layers.standardize import (
    STORAGE_CRS,
    check_in_china,
    measure,
    orient,
    source_feature_ids,
    standard_columns,
)
from layers.subdivide import write_pieces
from layers.write import write_cog, write_geoparquet

#: overlaps smaller than this (m²) are floating-point slivers along shared boundaries.
MIN_OVERLAP_M2 = 10.0


def build_layer(manifest: LayerManifest, spec: LayerSpec, ctx: LayerContext) -> tuple[CatalogEntry, LayerReport]:
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
    manifest: LayerManifest, spec: LayerSpec, source: VectorSource, ctx: LayerContext
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
        **write_pieces(kept, ctx.work, spec.id),
        **write_outlines(kept, ctx.work, spec.id),
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
    manifest: LayerManifest, spec: LayerSpec, source: RasterSource, ctx: LayerContext
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


def _reference(spec: LayerSpec, actual: dict[str, float | None]) -> ReferenceCheck | None:
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


def _coverage(manifest: LayerManifest, spec: LayerSpec, ctx: LayerContext) -> tuple[str | None, str | None]:
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
