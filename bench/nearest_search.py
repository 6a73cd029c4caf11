"""Nearest outline per point site: the compiled grid walk against the GEOS path, side by side.

    python -m bench.nearest_search [--points 200000] [--data bench/out/synth-<key>]

For each layer of the province-scale synthetic set, the same random points, the same outlines and
the same reach (10 km; rivers also 50 km, the river reach): the nearest feature of each point
found two ways, both ending in the same ellipsoidal measure (``Geod.inv`` of the nearest-point
pair) and the same choice among near-ties:

- **grid**: ``zoning.nearest.nearest`` (``zoning/run_grid.py``, what point batches use);
- **GEOS**: ``zoning.nearest.nearest_to_geometries`` with the points as geometries (a SciPy k-d
  tree of outline vertices bounds the distance, GEOS ``dwithin`` returns the runs within it,
  GEOS ``shortest_line`` gives each run's nearest-point pair): what line and polygon sites use,
  and the three steps point batches used before (then with the k-d search cut at the reach).

Both structures are built before timing (build times are reported apart); each search runs three
times and the fastest counts. The answers are compared: the same sites, features and distances
to the bit. Results go to ``bench/results/nearest-search.json`` (rendered in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from bench.machine import cpu_model
from zoning.index import LayerIndex
from zoning.nearest import ALL, class_pieces, nearest, nearest_to_geometries, plane_of

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "nearest-search.json"


def _fastest(call: Any, times: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(times):
        t = time.perf_counter()
        out = call()
        best = min(best, time.perf_counter() - t)
    return best, out


def _timed(call: Any) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def run(data: Path, points: int, seed: int = 7) -> dict[str, Any]:
    index = LayerIndex.load(data)
    rng = np.random.default_rng(seed)
    rows = []
    for layer in index.vectors.values():
        plane = plane_of(layer)
        group = class_pieces(layer, plane, None, ALL, index.data_dir)
        west, south, east, north = shapely.total_bounds(layer.parts)
        lon = rng.uniform(west, east, points)
        lat = rng.uniform(south, north, points)
        sites = shapely.points(lon, lat)
        grid_build = _timed(partial(getattr, group, "grid"))
        geos_build = _timed(partial(getattr, group, "tree")) + _timed(
            partial(getattr, group, "vertices")
        )
        reaches = [10_000.0] + ([50_000.0] if layer.kind == "river" else [])
        for reach in reaches:
            t_grid, (s1, f1, d1) = _fastest(partial(nearest, group, plane, lon, lat, reach))
            t_geos, (s2, f2, d2) = _fastest(
                partial(nearest_to_geometries, group, plane, sites, reach)
            )
            same = bool(np.array_equal(s1, s2) and np.array_equal(f1, f2)
                        and np.array_equal(d1, d2))
            rows.append({
                "layer": layer.id, "runs": len(group), "vertices": int(group.every.first[-1]),
                "reach_m": reach, "points": points, "found": len(s1),
                "grid_s": t_grid, "geos_s": t_geos,
                "grid_us_per_point": t_grid / points * 1e6,
                "geos_us_per_point": t_geos / points * 1e6,
                "grid_build_s": grid_build, "geos_build_s": geos_build, "identical": same,
            })
            print(json.dumps(rows[-1]), flush=True)
    return {
        "data": str(data), "started": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": os.getloadavg()[0], "cpu": cpu_model(), "points": points,
        "args": f"--points {points} --data {os.path.relpath(data, REPO)}", "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "out" / "synth-8ed5df4ed417",
                        help="processed data (default: the province-scale synthetic set)")
    args = parser.parse_args(argv)
    result = run(args.data, args.points)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0 if all(r["identical"] for r in result["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
