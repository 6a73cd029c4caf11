"""Generate every ILLUSTRATIVE layer of the data pack from the real layers (dev-only step).

Run in the extraction venv: ``/work/.venv-extract/bin/python -m layers.extract.illustrative_all
[--region qinghai|guizhou] [--no-manifest]``.

Why: authoritative red lines, parks and reserves are not public (data-sources.md §5), yet the
service needs such layers to be useful out of the box. This script derives clearly labelled
stand-ins by the documented rules in ``layers/extract/rules/illustrative_<region>.yaml`` from the
committed real layers (admin units, DEM, rivers, lakes, basins), writes one GeoPackage per layer
to ``data/raw/<region>/illustrative/``, an area report (``report.json``) with the deviation from
every published figure, and the manifest entries below the illustrative marker line.
Deterministic: same inputs and library versions give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from layers.extract.common import RAW, STORE_CRS, write_gpkg
from layers.extract.illustrative_base import RealData, area_km2, polygonal, union
from layers.extract.illustrative_builders import BUILDERS, Built, Feature
from layers.extract.illustrative_rules import RuleFile, load_rules

MARKER = "# --- illustrative layers (see layers/extract/illustrative_*.py) ---"
REAL_INPUTS = "real/admin.gpkg, real/dem.tif, real/hydro.gpkg, real/basins.gpkg, derived/*.gpkg"
#: kinds whose features carry a zone class the build should map (others: class_field null)
_CLASSLESS = {"ecological_red_line", "general_ecological_space", "glacier", "mining_rectification"}


def to_frame(features: list[Feature], layer_id: str) -> gpd.GeoDataFrame:
    """Features → GeoDataFrame with the standard columns, MultiPolygons, EPSG:4490."""
    keys: list[str] = []
    for f in features:
        keys += [k for k in f.attrs if k not in keys]
    rows = []
    for f in features:
        geom = polygonal(f.geometry)
        if isinstance(geom, shapely.Polygon):
            geom = shapely.MultiPolygon([geom])
        rows.append({"name": f.name, "zone_class": f.zone_class, "code": f.code,
                     "accuracy": "illustrative", "derivation": f.derivation,
                     **{k: f.attrs.get(k) for k in keys}, "geometry": geom})
    if not rows:
        raise ValueError(f"{layer_id}: the rules produced no features")
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORE_CRS)
    empty = gdf.geometry.is_empty
    if empty.any():
        raise ValueError(f"{layer_id}: empty geometry for {gdf.loc[empty, 'name'].tolist()}")
    if not gdf.geometry.is_valid.all():
        raise ValueError(f"{layer_id}: invalid geometry produced")
    return gdf


def layer_report(layer: Any, features: list[Feature], data: RealData) -> dict[str, Any]:
    """Areas (equal-area km²) of the layer and per class, plus deviation from its reference."""
    whole = union(f.geometry for f in features)
    total = area_km2(whole)
    summed = sum(area_km2(f.geometry) for f in features)
    rep: dict[str, Any] = {"id": layer.id, "features": len(features), "area_km2": round(total, 1),
                           "overlap_km2": round(summed - total, 2)}
    by_class: dict[str, float] = {}
    for f in features:
        by_class[str(f.zone_class)] = by_class.get(str(f.zone_class), 0.0) + area_km2(f.geometry)
    rep["by_class_km2"] = {k: round(v, 1) for k, v in by_class.items()}
    if layer.builder == "parks":
        parks: dict[str, float] = {}
        for f in features:
            key = f"{f.attrs['park']}{f.attrs.get('part') or ''}|{f.zone_class}"
            parks[key] = parks.get(key, 0.0) + area_km2(f.geometry)
        rep["parts_km2"] = {k: round(v, 1) for k, v in parks.items()}
    if layer.builder == "reserves":
        res: dict[str, float] = {}
        for f in features:
            n = f.name.removesuffix(str(f.zone_class))
            res[n] = res.get(n, 0.0) + area_km2(f.geometry)
        rep["reserves_km2"] = {k: round(v, 1) for k, v in res.items()}
        refs = {r.name: r.reference for r in layer.reserves if r.reference is not None}
        rep["reserve_references"] = {
            n: {"expected_km2": ref.expected, "deviation_pct": round(100 * (res.get(n, 0) - ref.expected) / ref.expected, 1),
                "note": ref.note}
            for n, ref in refs.items()}
    if layer.builder == "control_units":
        prov = area_km2(data.province)
        rep["province_km2"] = round(prov, 1)
        rep["gap_km2"] = round(prov - total, 3)
    if layer.reference is not None:
        exp = layer.reference.expected
        rep["reference_km2"] = exp
        rep["deviation_pct"] = round(100.0 * (total - exp) / exp, 1)
    return rep


def manifest_entry(layer: Any, rules: RuleFile) -> str:
    """YAML text of one manifest entry (hand-formatted so the file stays readable)."""
    short = layer.id.split("_", 1)[1]
    has_class = layer.kind not in _CLASSLESS
    lines = [
        f"  - id: {layer.id}",
        f"    kind: {layer.kind}",
        f"    title: {layer.title}",
        f"    title_en: {json.dumps(layer.title_en, ensure_ascii=False)}",
        f"    path: illustrative/{short}.gpkg",
        f"    layer: {layer.id}",
        "    name_field: name",
        f"    class_field: {'zone_class' if has_class else 'null'}",
        f"    code_field: {'code' if layer.builder == 'control_units' else 'null'}",
        "    accuracy: illustrative",
        f"    source: \"derived by layers/extract/illustrative_all.py from {REAL_INPUTS} "
        f"(rules: layers/extract/rules/illustrative_{rules.region}.yaml); not an official boundary\"",
        f"    derivation: \"ILLUSTRATIVE, rule-derived ({layer.builder}) after {layer.cite}; each "
        f"feature's derivation gives its rule and tuned values\"",
        f"    as_of: {rules.as_of}",
        "    access: public",
        f"    status: {layer.status}",
    ]
    if layer.reference is not None:
        ref = layer.reference
        lines.append(
            f"    reference: {{metric: area_km2, expected: {ref.expected:g}, source: "
            f"{json.dumps(ref.source or layer.cite, ensure_ascii=False)}, note: "
            f"{json.dumps(ref.note or '', ensure_ascii=False)}}}"
        )
    return "\n".join(lines) + "\n"


def update_manifest(manifest: Path, block: str) -> None:
    """Replace only the text after the illustrative marker (the real entries stay untouched)."""
    text = manifest.read_text(encoding="utf-8")
    if MARKER not in text:
        raise ValueError(f"{manifest}: marker line {MARKER!r} not found; not editing the manifest")
    head = text.split(MARKER, 1)[0]
    manifest.write_text(f"{head}{MARKER}\n{block}", encoding="utf-8")


def run_region(region: str, raw_root: Path, *, write_manifest: bool) -> dict[str, Any]:
    rules = load_rules(region)
    region_dir = raw_root / region
    data = RealData(region_dir, rules)
    out_dir = region_dir / "illustrative"
    built: Built = {}
    reports = []
    for layer in rules.layers:
        t0 = time.perf_counter()
        feats = BUILDERS[layer.builder](layer, data, built)
        built[layer.id] = feats
        gdf = to_frame(feats, layer.id)
        write_gpkg(gdf, out_dir / f"{layer.id.split('_', 1)[1]}.gpkg", layer.id, first=True)
        rep = layer_report(layer, feats, data)
        rep["seconds"] = round(time.perf_counter() - t0, 1)
        reports.append(rep)
        print(json.dumps(rep, ensure_ascii=False), flush=True)
    report = {"region": region, "province_km2": round(area_km2(data.province), 1), "layers": reports}
    saved = {**report, "layers": [{k: v for k, v in r.items() if k != "seconds"} for r in reports]}
    (out_dir / "report.json").write_text(json.dumps(saved, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")
    if write_manifest:
        write_entries(rules, region_dir)
    return report


def write_entries(rules: RuleFile, region_dir: Path) -> None:
    update_manifest(region_dir / "manifest.yaml",
                    "\n".join(manifest_entry(layer, rules) for layer in rules.layers))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--region", action="append", choices=["qinghai", "guizhou"])
    ap.add_argument("--raw", type=Path, default=RAW, help="data/raw folder (default: the repo's)")
    ap.add_argument("--no-manifest", action="store_true", help="do not touch manifest.yaml")
    ap.add_argument("--manifest-only", action="store_true", help="only rewrite the manifest entries")
    args = ap.parse_args(argv)
    for region in args.region or ["qinghai", "guizhou"]:
        if args.manifest_only:
            write_entries(load_rules(region), args.raw / region)
            continue
        run_region(region, args.raw, write_manifest=not args.no_manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
