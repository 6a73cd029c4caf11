"""Run one engine through every workload in a fresh interpreter and write its figures.

Why a separate process per engine: peak memory (``ru_maxrss``) and start-up are only meaningful
for a process that did nothing else, and one engine's caches must not warm another's.

    python -m bench.worker --engine duckdb --data bench/out/synth-… --sites bench/out/sites-… \
        --out bench/out/run [--single 200] [--startup-only]

Writes ``<out>/<engine>.json`` (figures) and ``<out>/<engine>_<kind>.parquet`` (answers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from bench.engines import make_engine, polygon_layers

KINDS = ("point", "polygon", "line")
SITE_FILES = {"point": "points.parquet", "polygon": "polygons.parquet", "line": "lines.parquet"}


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s(engine: Any) -> float:
    """CPU seconds of this process (all threads) plus the engine's server, if it has one."""
    server = getattr(engine, "server_cpu_s", None)
    return time.process_time() + (server() if server is not None else 0.0)


def latency(engine: Any, geoms: np.ndarray, kind: str, warmup: int = 5) -> dict[str, float]:
    """p50/p99/mean wall time of single-site calls, after a few untimed warm-up calls."""
    for geom in geoms[:warmup]:
        engine.screen_one(geom, kind)
    times = []
    c0 = cpu_s(engine)
    for geom in geoms:
        t0 = time.perf_counter()
        engine.screen_one(geom, kind)
        times.append(time.perf_counter() - t0)
    cpu_ms = (cpu_s(engine) - c0) * 1000 / max(1, len(geoms))
    ms = np.asarray(times) * 1000
    return {
        "n": len(ms),
        "cpu_mean_ms": cpu_ms,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


WARM_LIMIT_S = 120.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    layers = polygon_layers(data)
    figures: dict[str, Any] = {"engine": args.engine, "data": str(data), "layers": layers}
    engine = make_engine(args.engine)
    figures["version"] = engine.version()
    t0, c0 = time.perf_counter(), cpu_s(engine)
    engine.load(data, layers)
    figures["startup_s"] = time.perf_counter() - t0
    figures["startup_cpu_s"] = cpu_s(engine) - c0
    figures["rss_after_load_mb"] = peak_rss_mb()
    try:
        if not args.startup_only:
            figures["batch"] = {}
            figures["single"] = {}
            for kind in KINDS:
                sites = gpd.read_parquet(Path(args.sites) / SITE_FILES[kind])
                entry: dict[str, Any] = {"n": len(sites)}
                try:
                    t1, c1 = time.perf_counter(), cpu_s(engine)
                    answer = engine.screen_batch(sites, kind)
                    entry["seconds"] = time.perf_counter() - t1
                    entry["cpu_s"] = cpu_s(engine) - c1
                    entry["per_s"] = len(sites) / entry["seconds"]
                    entry["per_cpu_s"] = len(sites) / max(entry["cpu_s"], 1e-9)
                    entry["load_avg"] = os.getloadavg()[0]
                    entry["pairs"] = len(answer)
                    # again, warm, as a long-running service sees it (skipped for slow engines):
                    # the third run, because GEOS builds a prepared polygon's point index on
                    # its second use, and caches warm up over two runs in the other engines too
                    if kind == "point" and entry["seconds"] < WARM_LIMIT_S:
                        for _ in range(2):
                            t2, c2 = time.perf_counter(), cpu_s(engine)
                            engine.screen_batch(sites, kind)
                            entry["warm_seconds"] = time.perf_counter() - t2
                            entry["warm_per_s"] = len(sites) / entry["warm_seconds"]
                            entry["warm_per_cpu_s"] = len(sites) / max(cpu_s(engine) - c2, 1e-9)
                    answer.to_parquet(out / f"{args.engine}_{kind}.parquet", index=False)
                except Exception as exc:  # one failing workload must not hide the others
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                figures["batch"][kind] = entry
                if args.single and kind in ("point", "polygon"):
                    geoms = sites.geometry.values[: args.single]
                    try:
                        figures["single"][kind] = latency(engine, geoms, kind)
                    except Exception as exc:
                        figures["single"][kind] = {"error": f"{type(exc).__name__}: {exc}"}
        server = getattr(engine, "server_peak_rss_kb", None)
        if server is not None:
            figures["server_peak_rss_mb"] = server() / 1024
    finally:
        engine.close()
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one benchmark engine")
    parser.add_argument("--engine", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--sites", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--single", type=int, default=0)
    parser.add_argument("--startup-only", action="store_true")
    parser.add_argument("--tag", default="", help="suffix of the figures file")
    args = parser.parse_args(argv)
    # A timeout in the runner sends SIGTERM: exit through ``finally`` so that engines holding
    # outside resources (the PostGIS cluster) shut them down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name = f"{args.engine}{args.tag}.json"
    try:
        figures = run(args)
    except Exception as exc:
        traceback.print_exc()
        figures = {"engine": args.engine, "error": f"{type(exc).__name__}: {exc}"}
    Path(args.out, name).write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    return 0 if "error" not in figures else 1


if __name__ == "__main__":
    sys.exit(main())
