"""Turning a source's own columns into the standard layer columns of docs/architecture.md.

Why: the engine and the rulebook read ``feature_id``, ``name``, ``zone_class``, ``code``,
``accuracy``, ``derivation`` and ``area_km2`` / ``length_km`` from every layer, whatever the source
called them. The mapping is driven by the manifest (``*_field``, ``class_map``, ``defaults``) and by
``layers/kinds.yaml`` (class aliases); every other source attribute is kept so nothing an officer
relies on is lost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from layers.errors import SourceDataError
from layers.kinds import load_kinds
from layers.manifest import Accuracy, LayerSpec
from layers.measure import areas_m2, lengths_m
from layers.readers import looks_like_misread_gbk

STORAGE_CRS = "EPSG:4490"
STANDARD = ("feature_id", "name", "zone_class", "code", "accuracy", "derivation", "area_km2", "length_km")
#: lon/lat box generously around China: coordinates outside mean a wrong source CRS.
CHINA_BOUNDS = (60.0, -5.0, 150.0, 60.0)


def source_feature_ids(spec: LayerSpec, frame: pd.DataFrame) -> np.ndarray:
    """Stable feature ids: the ``id_field`` as text (unique, non-empty) or the 1-based row number."""
    if spec.id_field is None:
        return np.arange(1, len(frame) + 1).astype(str).astype(object)
    values = _as_text(_column(spec, frame, "id_field", spec.id_field))
    if values.isna().any():
        rows = (np.flatnonzero(values.isna().to_numpy()) + 1)[:5].tolist()
        raise SourceDataError(spec.id, "id_field", f"{spec.id_field!r} is empty in rows {rows}")
    dup = values[values.duplicated()].unique()[:5].tolist()
    if dup:
        raise SourceDataError(
            spec.id, "id_field", f"{spec.id_field!r} is not unique (e.g. {dup}); pick a unique field or drop id_field"
        )
    return values.to_numpy(dtype=object)


def check_in_china(
    spec: LayerSpec,
    bounds: tuple[float, float, float, float],
    source_crs: str,
    source_bounds: tuple[float, float, float, float] | None = None,
) -> None:
    """Refuse data whose lon/lat falls outside China: almost always a wrong or missing-prefix CRS.

    ``source_bounds`` (in the source CRS) lets the message suggest the right Gauss–Krüger code.
    """
    minx, miny, maxx, maxy = bounds
    lo_x, lo_y, hi_x, hi_y = CHINA_BOUNDS
    finite = all(np.isfinite(v) for v in bounds)
    if finite and lo_x <= minx and maxx <= hi_x and lo_y <= miny and maxy <= hi_y:
        return
    where = f"lon {minx:.2f}..{maxx:.2f}, lat {miny:.2f}..{maxy:.2f}" if finite else "no valid position"
    raise SourceDataError(
        spec.id,
        "crs",
        f"read as {source_crs}, the data lies at {where}, outside China; the CRS is wrong. "
        f"{gauss_kruger_hint(source_bounds)}Set `crs:` in the manifest",
    )


def gauss_kruger_hint(source_bounds: tuple[float, float, float, float] | None) -> str:
    """Suggest a CGCS2000 Gauss–Krüger EPSG code from the eastings' magnitude (zone prefix or not).

    >>> gauss_kruger_hint((33_400_000.0, 3_900_000.0, 33_600_000.0, 4_000_000.0))
    'Eastings carry the zone prefix 33: CGCS2000 3-degree Gauss–Krüger zone 33 is EPSG:4521. '
    """
    if source_bounds is None or not all(np.isfinite(v) for v in source_bounds):
        return ""
    minx, miny, maxx, _ = source_bounds
    if miny < 0:
        return ""
    zone = int(minx // 1_000_000)
    if minx >= 1e7 and zone == int(maxx // 1_000_000):
        if 25 <= zone <= 45:
            return f"Eastings carry the zone prefix {zone}: CGCS2000 3-degree Gauss–Krüger zone {zone} is EPSG:{4513 + zone - 25}. "
        if 13 <= zone <= 23:
            return f"Eastings carry the zone prefix {zone}: CGCS2000 6-degree Gauss–Krüger zone {zone} is EPSG:{4491 + zone - 13}. "
    if minx >= 0 and maxx < 1_000_000:
        return (
            "Eastings have no zone prefix: use the CGCS2000 3-degree Gauss–Krüger 'CM' code of the "
            "central meridian (EPSG:4534 + (CM − 75)/3, e.g. EPSG:4542 for 99°E). "
        )
    return ""


def standard_columns(
    spec: LayerSpec, frame: pd.DataFrame, ids: np.ndarray, family: str, warnings: list[str]
) -> pd.DataFrame:
    """Build the attribute table in standard order; ``frame`` is the source table (no geometry).

    Appends human-readable warnings (unknown class values, …) to ``warnings``.
    """
    consumed = {
        "feature_id": spec.id_field,
        "name": spec.name_field,
        "zone_class": spec.class_field,
        "code": spec.code_field,
        "accuracy": "accuracy",
        "derivation": "derivation",
    }
    out = pd.DataFrame(index=frame.index)
    out["feature_id"] = pd.Series(ids, index=frame.index).astype("str")
    out["name"] = _mapped_text(spec, frame, "name_field", spec.name_field)
    out["zone_class"] = _zone_classes(spec, frame, warnings)
    out["code"] = _mapped_text(spec, frame, "code_field", spec.code_field)
    out["accuracy"] = _feature_accuracy(spec, frame)
    out["derivation"] = _feature_level(frame, "derivation", spec.derivation)
    for column in frame.columns:
        if column in consumed.values() and column == _standard_name_of(column, consumed):
            continue  # the mapped field already *is* the standard column
        target = f"src_{column}" if column in STANDARD else column
        out[target] = frame[column]
    for key, value in spec.defaults.items():
        if key in out:
            filled = out[key].isna()
            if filled.any():
                out[key] = out[key].astype(object).where(~filled, value)
        else:
            out[key] = value
    return out


def measure(geoms: np.ndarray, family: str) -> tuple[str | None, np.ndarray | None]:
    """Ellipsoidal area (km²) of polygons or length (km) of lines on GRS80, per feature."""
    if family == "polygon":
        return "area_km2", areas_m2(geoms) / 1e6
    if family == "line":
        return "length_km", lengths_m(geoms) / 1e3
    return None, None


def orient(geoms: np.ndarray, family: str) -> np.ndarray:
    """Counter-clockwise shells (GeoParquet's recommendation; makes geodesic areas positive)."""
    return shapely.orient_polygons(geoms, exterior_cw=False) if family == "polygon" else geoms


def _standard_name_of(column: str, consumed: dict[str, str | None]) -> str | None:
    return next((std for std, src in consumed.items() if src == column and std == column), None)


def _column(spec: LayerSpec, frame: pd.DataFrame, key: str, field: str) -> pd.Series:
    if field not in frame.columns:
        available = ", ".join(map(str, frame.columns)) or "(none)"
        hint = ""
        if looks_like_misread_gbk([str(c) for c in frame.columns]):
            hint = "; the column names look like GBK read as Latin-1: add `encoding: gbk`"
        raise SourceDataError(spec.id, key, f"source has no column {field!r}; its columns: {available}{hint}")
    return frame[field]


def _as_text(series: pd.Series) -> pd.Series:
    """Text without spurious '.0' (a .dbf stores adcodes as floats) and with blanks as missing."""
    if pd.api.types.is_float_dtype(series.dtype):
        finite = series.dropna()
        if len(finite) and bool((finite == np.floor(finite)).all()):
            series = series.astype("Int64")
    text = series.astype("str").str.strip()
    return text.mask(text == "")


def _mapped_text(spec: LayerSpec, frame: pd.DataFrame, key: str, field: str | None) -> pd.Series:
    if field is None:
        return pd.Series(np.nan, index=frame.index, dtype="str")
    return _as_text(_column(spec, frame, key, field))


def _zone_classes(spec: LayerSpec, frame: pd.DataFrame, warnings: list[str]) -> pd.Series:
    """Canonical class ids via class_map and kinds.yaml aliases; unknown labels kept verbatim."""
    if spec.class_field is None:
        return pd.Series(np.nan, index=frame.index, dtype="str")
    raw = _as_text(_column(spec, frame, "class_field", spec.class_field))
    kinds = load_kinds()
    labels = raw.dropna().unique()
    table = {label: kinds.canonical_class(spec.kind.value, label, spec.class_map) for label in labels}
    unknown = sorted(label for label, cid in table.items() if cid is None)
    if unknown:
        counts = raw.value_counts()
        listed = ", ".join(f"{u!r} ({int(counts[u])})" for u in unknown[:10])
        known = ", ".join(sorted(kinds.get(spec.kind.value).classes)) or "none"
        warnings.append(
            f"class_field {spec.class_field!r}: values not known for kind {spec.kind.value!r} kept "
            f"verbatim: {listed}; canonical classes: {known}; map them with `class_map:`"
        )
    mapped = raw.map(lambda v: table.get(v) or v, na_action="ignore")
    return mapped.astype("str")


def _feature_level(frame: pd.DataFrame, column: str, layer_value: str | None) -> pd.Series:
    """A feature's own value where the source has the column and a value, else the layer's."""
    base = pd.Series(layer_value if layer_value is not None else np.nan, index=frame.index, dtype="str")
    if column not in frame.columns:
        return base
    own = _as_text(frame[column])
    return own.where(own.notna(), base).astype("str")


def _feature_accuracy(spec: LayerSpec, frame: pd.DataFrame) -> pd.Series:
    values = _feature_level(frame, "accuracy", spec.accuracy.value)
    allowed = {a.value for a in Accuracy}
    bad = sorted(set(values.dropna().unique()) - allowed)
    if bad:
        raise SourceDataError(
            spec.id, "accuracy", f"source column 'accuracy' has {bad[:5]}; allowed: {sorted(allowed)}"
        )
    return values
