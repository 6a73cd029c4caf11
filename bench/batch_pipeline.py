"""Batch screening end to end (issue 6, item 6): our ``zoning batch`` against a PostGIS pipeline.

    python -m bench.batch_pipeline --points 1000000 --polygons 100000 \
        [--data bench/out/synth-<key>] [--formats csv,xlsx] [--skip-postgis]

The same job both ways, on the same CSV files and the province-scale synthetic layers:

- **ours**: ``zoning batch in.csv -o out.csv|xlsx`` in a fresh process (reading, validation,
  bulk screening with 1/5/10 km bands and 50 km river reach, the rulebook's verdict per row,
  writing), timed with GNU ``time`` (wall, CPU, peak RSS);
- **PostGIS** (the anchor): ``COPY`` the CSV into an unlogged table, build the sites, one
  set-based query per job that gives every input row its per-layer intersect counts (overlap
  areas for polygons, on the spheroid), nearest distances within 10 km (50 km for rivers) on the
  spheroid, and ``COPY`` the table out to CSV. Layers are bulk-loaded once (``ST_Subdivide``,
  GiST, ``ANALYZE``; the one-off load is reported apart), as ``bench.engines.postgis`` does.

PostGIS does not evaluate our rulebook, so its job is a subset of ours (spatial summary only);
its rows/s is therefore an upper bound for a PostGIS-based service. Results go to
``bench/out/batch/pipeline.json``; the row counts and the red-line counts per row are
cross-checked between the two outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from bench import synth
from bench.batch_throughput import make_points
from bench.engines.base import polygon_layers

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "batch"
RESULTS = REPO / "bench" / "results"
NEAR_M = 10_000.0
RIVER_M = 50_000.0


def make_polygons(path: Path, n: int, bbox: tuple[float, float, float, float], seed: int = 2) -> None:
    """Small project footprints (squares of 100 m – 2 km) as a WKT column, with an id."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(bbox[0], bbox[2], n)
    y = rng.uniform(bbox[1], bbox[3], n)
    d = rng.uniform(0.001, 0.02, n)
    wkt = shapely.to_wkt(shapely.box(x, y, x + d, y + d), rounding_precision=6)
    pd.DataFrame({"编号": np.arange(n), "wkt": wkt}).to_csv(path, index=False)


def run_ours(src: Path, out: Path, data: Path) -> dict[str, Any]:
    stats = OUT / f"{out.name}.time"
    cmd = ["/usr/bin/time", "-o", str(stats), "-f", "%e %U %S %M", sys.executable, "-m",
           "app.cli", "batch", str(src), "-o", str(out), "--data", str(data), "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"zoning batch failed: {proc.stderr[-2000:]}")
    wall, user, system, rss_kb = stats.read_text().split()[-4:]
    return {
        "wall_s": float(wall),
        "cpu_s": float(user) + float(system),
        "peak_rss_mb": int(rss_kb) / 1024,
    }


class PostgisPipeline:
    """A throwaway cluster with the layers loaded once; ``job`` runs one CSV → CSV pipeline."""

    def __init__(self, data: Path, layers: list[str], rivers: list[str]) -> None:
        from bench.engines.postgis import PostgisEngine

        self.engine = PostgisEngine()
        t0 = time.perf_counter()
        self.engine.load(data, layers + rivers)
        self.load_s = time.perf_counter() - t0
        self.layers, self.rivers = layers, rivers
        self.conn = self.engine.conn

    def _copy_in(self, src: Path, columns: str) -> None:
        self.conn.execute("DROP TABLE IF EXISTS job_in")
        self.conn.execute(f"CREATE UNLOGGED TABLE job_in ({columns})")
        with self.conn.cursor() as cur, cur.copy(
            "COPY job_in FROM STDIN (FORMAT csv, HEADER true)"
        ) as copy, open(src, "rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)

    def job(self, src: Path, out: Path, kind: str) -> dict[str, Any]:
        cpu0 = self.engine.server_cpu_s()
        t0 = time.perf_counter()
        if kind == "point":
            self._copy_in(src, "id bigint, lon float8, lat float8")
            make = "ST_SetSRID(ST_MakePoint(lon, lat), 4490)"
        else:
            self._copy_in(src, "id bigint, wkt text")
            make = "ST_GeomFromText(wkt, 4490)"
        self.conn.execute("DROP TABLE IF EXISTS job_sites")
        self.conn.execute(
            f"CREATE UNLOGGED TABLE job_sites AS SELECT id, {make} AS geom FROM job_in"
        )
        self.conn.execute("CREATE INDEX job_sites_gist ON job_sites USING GIST (geom)")
        self.conn.execute("ANALYZE job_sites")
        with open(out, "wb") as fh, self.conn.cursor() as cur, cur.copy(
            f"COPY ({self._summary_sql(kind)}) TO STDOUT (FORMAT csv, HEADER true)"
        ) as copy:
            for block in copy:
                fh.write(block)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "server_cpu_s": self.engine.server_cpu_s() - cpu0}

    def _summary_sql(self, kind: str) -> str:
        select = ["s.id"]
        joins = []
        # degrees that certainly cover the reach at these latitudes (≤ 40° N), for the index
        near_deg, river_deg = NEAR_M / 80_000, RIVER_M / 80_000
        for i, layer in enumerate(self.layers):
            inside = "ST_Intersects(p.geom, s.geom)"
            if kind == "point":
                measure = f"count(DISTINCT p.feature_id) AS n{i}"
                select.append(f"coalesce(a{i}.n{i}, 0) AS {layer}_count")
            else:
                clip = "CASE WHEN ST_CoveredBy(s.geom, p.geom) THEN s.geom ELSE ST_Intersection(s.geom, p.geom) END"
                measure = (
                    f"count(DISTINCT p.feature_id) AS n{i}, "
                    f"sum(ST_Area(({clip})::geography)) AS m{i}"
                )
                select += [f"coalesce(a{i}.n{i}, 0) AS {layer}_count",
                           f"coalesce(a{i}.m{i}, 0) AS {layer}_overlap_m2"]  # fmt: skip
            joins.append(
                f"LEFT JOIN LATERAL (SELECT {measure} FROM {layer} p WHERE {inside}) a{i} ON true"
            )
            joins.append(
                f"LEFT JOIN LATERAL (SELECT min(ST_Distance(p.geom::geography, s.geom::geography))"
                f" AS d{i} FROM {layer} p WHERE ST_DWithin(p.geom, s.geom, {near_deg})"
                f" AND ST_DWithin(p.geom::geography, s.geom::geography, {NEAR_M})) b{i} ON true"
            )
            select.append(f"b{i}.d{i} AS {layer}_nearest_m")
        for j, layer in enumerate(self.rivers):
            joins.append(
                f"LEFT JOIN LATERAL (SELECT min(ST_Distance(p.geom::geography, s.geom::geography))"
                f" AS r{j} FROM {layer} p WHERE ST_DWithin(p.geom, s.geom, {river_deg})"
                f" AND ST_DWithin(p.geom::geography, s.geom::geography, {RIVER_M})) c{j} ON true"
            )
            select.append(f"c{j}.r{j} AS {layer}_nearest_m")
        return f"SELECT {', '.join(select)} FROM job_sites s {' '.join(joins)} ORDER BY s.id"

    def close(self) -> None:
        self.engine.close()


def crosscheck(ours: Path, theirs: Path, n: int) -> dict[str, Any]:
    """Row counts and per-row red-line counts of the two outputs."""
    a = pd.read_csv(ours, encoding="utf-8-sig", low_memory=False)
    b = pd.read_csv(theirs)
    check: dict[str, Any] = {"rows_ours": len(a), "rows_postgis": len(b), "rows_in": n}
    red_ours = next((c for c in a.columns if c.startswith("ecological_red_line_count")), None)
    red_theirs = next((c for c in b.columns if c.startswith("syn_redline_count")), None)
    if red_ours and red_theirs and len(a) == len(b):
        same = a[red_ours].fillna(0).astype(int).to_numpy() == b[red_theirs].to_numpy()
        check["red_line_count_equal_rows"] = int(same.sum())
    return check


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--polygons", type=int, default=100_000)
    p.add_argument("--data", type=Path, help="processed data (default: the province-scale synthetic set)")
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--skip-postgis", action="store_true")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = args.data or synth.generate(synth.PROVINCE, REPO / "bench" / "out" / f"synth-{synth.PROVINCE.key()}")
    bbox = synth.PROVINCE.bbox
    layers = polygon_layers(data)
    rivers = [e for e in json.loads((data / "catalog.json").read_text())["layers"]
              if e["kind"] == "river"]  # fmt: skip
    inputs = {}
    if args.points:
        inputs["point"] = (OUT / f"points_{args.points}.csv", args.points)
        if not inputs["point"][0].exists():
            make_points(inputs["point"][0], args.points, bbox)
    if args.polygons:
        inputs["polygon"] = (OUT / f"polygons_{args.polygons}.csv", args.polygons)
        if not inputs["polygon"][0].exists():
            make_polygons(inputs["polygon"][0], args.polygons, bbox)
    results: dict[str, Any] = {"data": str(data), "started": time.strftime("%Y-%m-%d %H:%M"),
                               "args": " ".join(sys.argv[1:]),
                               "load_average": os.getloadavg()[0], "runs": []}  # fmt: skip
    for kind, (src, n) in inputs.items():
        for fmt in args.formats.split(","):
            if fmt == "xlsx" and n > 1_048_575:
                continue
            out = OUT / f"ours_{kind}_{n}.{fmt}"
            run = {"engine": "ours", "kind": kind, "rows": n, "output": fmt,
                   "hits": "all" if fmt in ("xlsx", "gpkg") else "nearest",  # the CLI's default
                   **run_ours(src, out, data)}
            run["rows_per_s"] = n / run["wall_s"]
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
    if not args.skip_postgis:
        pg = PostgisPipeline(data, layers, [e["id"] for e in rivers])
        results["postgis_load_s"] = pg.load_s
        try:
            for kind, (src, n) in inputs.items():
                out = OUT / f"postgis_{kind}_{n}.csv"
                run = {"engine": "postgis", "kind": kind, "rows": n, "output": "csv", **pg.job(src, out, kind)}
                run["rows_per_s"] = n / run["wall_s"]
                ours_csv = OUT / f"ours_{kind}_{n}.csv"
                if ours_csv.exists():
                    run["crosscheck"] = crosscheck(ours_csv, out, n)
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
        finally:
            pg.close()
    text = json.dumps(results, indent=1, ensure_ascii=False)
    (OUT / "pipeline.json").write_text(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"batch-{args.points}-points-{args.polygons}-polygons.json"
    (RESULTS / name).write_text(text + "\n")  # rendered into docs/benchmarks.md


if __name__ == "__main__":
    main()
