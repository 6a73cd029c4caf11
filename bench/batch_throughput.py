"""Batch throughput: N point rows (CSV) → CSV/XLSX through `zoning batch`, rows/s and peak memory.

Each run is a fresh ``zoning batch`` subprocess measured with ``resource`` (peak RSS of the child)
and wall time, so the numbers are end to end: reading, validation, screening, parts, output.

    python -m bench.batch_throughput --rows 1000000 --data bench/out/synth-<key> [--out bench/out/batch]
    python -m bench.batch_throughput --rows 200000 --screener tests.batch.zones:make_screener   # plumbing only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def make_points(path: Path, n: int, bbox: tuple[float, float, float, float], seed: int = 1) -> None:
    """Random points in ``bbox`` with an id, a name and a project type, written in 1M-row pieces."""
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, n, 1_000_000):
        m = min(1_000_000, n - start)
        pd.DataFrame(
            {
                "编号": np.arange(start, start + m),
                "经度": rng.uniform(bbox[0], bbox[2], m).round(6),
                "纬度": rng.uniform(bbox[1], bbox[3], m).round(6),
            }
        ).to_csv(path, index=False, mode="w" if first else "a", header=first)
        first = False


def run(src: Path, out: Path, args: argparse.Namespace) -> dict[str, float | int | str]:
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "batch",
        str(src),
        "-o",
        str(out),
        "--no-progress",
        "--chunk-rows",
        str(args.chunk_rows),
    ]
    if args.data:
        cmd += ["--data", str(args.data)]
    if args.screener:
        cmd += ["--screener", args.screener]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return {
        "output": out.suffix[1:],
        "rows": args.rows,
        "wall_s": round(wall, 2),
        "rows_per_s": round(args.rows / wall),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "peak_rss_mib": round(after.ru_maxrss / 1024),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--data", type=Path, help="processed data folder (e.g. bench/out/synth-<key>)")
    p.add_argument("--screener", help="screener factory instead of the default (module:function)")
    p.add_argument("--bbox", default="90,31,103,40", help="where the points fall (lon/lat)")
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--workers", type=int)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "batch")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / f"points_{args.rows}.csv"
    if not src.exists():
        bbox = tuple(float(v) for v in args.bbox.split(","))
        make_points(src, args.rows, bbox)  # type: ignore[arg-type]
    results = []
    for fmt in args.formats.split(","):
        if fmt == "xlsx" and args.rows > 1_048_575:
            continue
        results.append(run(src, args.out / f"result_{args.rows}.{fmt}", args))
        print(json.dumps(results[-1]), flush=True)
    (args.out / f"batch_{args.rows}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
