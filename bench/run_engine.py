"""Side-by-side benchmark of the screening engine against PostGIS, DuckDB spatial and GeoPandas.

    python -m bench.run_engine [--quick] [--engines ours,postgis,duckdb,geopandas] [--no-doc]

One run, same data, same questions: the synthetic province-scale set (``bench.synth``) is
generated (or reused) under ``bench/out``, the same seeded point, polygon and line sites are
written once, and each engine runs every workload in its own interpreter (``bench.worker``).
Then the answers are cross-checked (same pairs, measures within 0.1 %), start-up is also timed on
the bundled pack (``data/processed``, when built), and ``docs/benchmarks.md`` is rewritten with
the figures, the machine, the versions and the command. ``bench/notes.md`` (hand-written
analysis: profiles, what bounds each figure) is appended to the document verbatim.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bench import synth
from bench.crosscheck import compare
from bench.engines import ENGINES
from bench.machine import describe
from bench.report import render

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "benchmarks.md"
NOTES = ROOT / "bench" / "notes.md"
# Figures of the HTTP load and batch pipeline runs, committed so the report can be re-rendered.
RESULTS = ROOT / "bench" / "results"
BUNDLED = ROOT / "data" / "processed"
SEED = 7

SIZES = {
    "full": {"point": 200_000, "polygon": 10_000, "line": 10_000, "single": 200},
    "quick": {"point": 20_000, "polygon": 2_000, "line": 2_000, "single": 100},
}


def write_sites(folder: Path, spec: synth.SynthSpec, sizes: dict[str, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    synth.site_points(sizes["point"], spec.bbox, SEED).to_parquet(folder / "points.parquet")
    synth.site_polygons(sizes["polygon"], spec.bbox, SEED).to_parquet(folder / "polygons.parquet")
    synth.site_lines(sizes["line"], spec.bbox, SEED).to_parquet(folder / "lines.parquet")
    return folder


def run_worker(
    engine: str, data: Path, out: Path, extra: list[str], timeout: float
) -> dict[str, Any]:
    """Run ``bench.worker`` for one engine; a crash or timeout becomes an ``error`` entry."""
    tag = next((extra[i + 1] for i, a in enumerate(extra) if a == "--tag"), "")
    cmd = [sys.executable, "-m", "bench.worker", "--engine", engine, "--data", str(data),
           "--out", str(out), *extra]  # fmt: skip
    print("»", " ".join(cmd[1:]), flush=True)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the worker closes its engine (and stops its cluster)
        try:
            proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return {"engine": engine, "error": f"timed out after {timeout:.0f} s"}
    path = out / f"{engine}{tag}.json"
    if not path.exists():
        return {"engine": engine, "error": f"worker failed: {stderr.strip()[-500:]}"}
    figures: dict[str, Any] = json.loads(path.read_text())
    if proc.returncode and stderr:
        figures.setdefault("stderr", stderr.strip()[-500:])
    return figures


def crosscheck(out: Path, engines: list[str], reference: str) -> dict[str, dict[str, str]]:
    """Compare every engine's answers with the reference engine's, per workload."""
    table: dict[str, dict[str, str]] = {}
    for kind in ("point", "polygon", "line"):
        ref_file = out / f"{reference}_{kind}.parquet"
        if not ref_file.exists():
            continue
        ref = pd.read_parquet(ref_file)
        for engine in engines:
            if engine == reference:
                continue
            file = out / f"{engine}_{kind}.parquet"
            if not file.exists():
                table.setdefault(engine, {})[kind] = "no answer"
                continue
            result = compare(ref, pd.read_parquet(file))
            text = result.summary()
            if result.examples:
                text += "; e.g. " + " | ".join(result.examples[:2])
            table.setdefault(engine, {})[kind] = text
    return table


def data_summary(folder: Path) -> list[dict[str, Any]]:
    import geopandas as gpd
    import shapely

    from layers.catalog import read_catalog

    rows = []
    for entry in read_catalog(folder).layers:
        if entry.geometry_type == "raster":
            rows.append(
                {"layer": entry.id, "kind": entry.kind, "features": "raster", "vertices": ""}
            )
            continue
        gdf = gpd.read_parquet(folder / entry.path, columns=["geometry"])
        rows.append(
            {
                "layer": entry.id,
                "kind": entry.kind,
                "features": len(gdf),
                "vertices": int(shapely.get_num_coordinates(gdf.geometry.values).sum()),
            }
        )
    return rows


def build_context(run_dir: Path, meta: dict[str, Any], reference: str) -> dict[str, Any]:
    """Everything the report needs, from the run folder (so a report can be re-rendered)."""
    engines: list[str] = meta["engines"]

    def load(name: str) -> dict[str, Any]:
        path = run_dir / name
        return json.loads(path.read_text()) if path.exists() else {"error": "no figures"}

    figures = {e: load(f"{e}.json") for e in engines}
    bundled = {
        e: load(f"{e}_bundled.json") for e in engines if (run_dir / f"{e}_bundled.json").exists()
    }
    if reference not in engines or "error" in figures[reference]:
        reference = next((e for e in engines if "error" not in figures[e]), engines[0])
    spec = synth.SynthSpec(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()}
    )
    return {
        **meta,
        "spec": spec,
        "elapsed_s": meta.get("elapsed_s", 0.0),
        "figures": figures,
        "bundled": bundled,
        "reference": reference,
        "checks": crosscheck(run_dir, engines, reference),
        "notes": NOTES.read_text(encoding="utf-8") if NOTES.exists() else "",
        "load": [
            json.loads(p.read_text()) for p in sorted(RESULTS.glob("load-*.json"))
        ],
        "batch": sorted(
            (json.loads(p.read_text()) for p in RESULTS.glob("batch-*.json")),
            key=lambda r: (r.get("started", ""), r.get("args", "")),
        ),
        "nearest": (
            json.loads((RESULTS / "nearest-search.json").read_text())
            if (RESULTS / "nearest-search.json").exists() else None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller data and site sets")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--reference", default="postgis", help="engine the others are checked against"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per engine, seconds")
    parser.add_argument(
        "--render-only", action="store_true",
        help="re-render the report from the last run's folder (e.g. after editing bench/notes.md)",
    )  # fmt: skip
    parser.add_argument(
        "--append-quick", action="store_true",
        help="with --render-only: append the last quick run's tables to the full report",
    )  # fmt: skip
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    run_dir = OUT / f"run-{mode}"
    if args.render_only:
        meta = json.loads((run_dir / "meta.json").read_text())
        text = render(build_context(run_dir, meta, args.reference))
        quick_dir = OUT / "run-quick"
        if args.append_quick and mode == "full" and (quick_dir / "meta.json").exists():
            quick = build_context(
                quick_dir, json.loads((quick_dir / "meta.json").read_text()), args.reference
            )
            quick["notes"] = ""
            body = render(quick).split("\n", 1)[1]
            text += "\n---\n\n# Appendix: the last `--quick` run (10× smaller set)\n" + body
        return _emit_text(text, args.no_doc)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    spec = synth.QUICK if args.quick else synth.PROVINCE
    sizes = SIZES[mode]
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    data = synth.generate(spec, OUT / f"synth-{spec.key()}")
    meta: dict[str, Any] = {
        "mode": mode,
        "command": "python -m bench.run_engine" + (" --quick" if args.quick else ""),
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe(),
        "spec": asdict(spec),
        "generation_s": time.perf_counter() - t0,
        "data": data_summary(data),
        "bundled_data": data_summary(BUNDLED) if (BUNDLED / "catalog.json").exists() else [],
        "sizes": sizes,
        "engines": engines,
    }
    sites = write_sites(OUT / f"sites-{mode}", spec, sizes)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob("*"):
        stale.unlink()
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))

    for engine in engines:
        figures = run_worker(
            engine, data, run_dir, ["--sites", str(sites), "--single", str(sizes["single"])],
            args.timeout,
        )  # fmt: skip
        if "error" in figures and not (run_dir / f"{engine}.json").exists():
            (run_dir / f"{engine}.json").write_text(json.dumps(figures))
        print(json.dumps(figures, ensure_ascii=False)[:400], flush=True)
    if meta["bundled_data"]:
        for engine in engines:
            run_worker(
                engine, BUNDLED, run_dir, ["--startup-only", "--tag", "_bundled"], args.timeout
            )
    meta["elapsed_s"] = (datetime.now(UTC) - started).total_seconds()
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return _emit(build_context(run_dir, meta, args.reference), args.no_doc)


def _emit(context: dict[str, Any], no_doc: bool) -> int:
    return _emit_text(render(context), no_doc)


def _emit_text(text: str, no_doc: bool) -> int:
    if no_doc:
        print(text)
    else:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
