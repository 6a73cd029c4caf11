"""Bounded HTTP load test on loopback with wrk (Debian package): issue 7, item 2.

Starts ``zoning serve`` with N uvicorn workers on a free loopback port, drives it with ``wrk``
(64 connections by default, for a fixed duration) using a Lua script that mixes point, polygon
and line screening with OGC item paging, then reports throughput, p50/p99 latency, error count
and the memory of every worker (RSS and PSS from /proc, so shared pages are not double counted).

    .venv/bin/python -m bench.load_test --data data/processed --workers 2 --duration 60

Only 127.0.0.1 is ever targeted, and wrk stops by itself after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.pgcluster import free_port

LUA = r"""
-- Request mix built by bench.load_test.build_requests.
local bodies = {}
local paths = {}
%(bodies)s
local counter = 0
request = function()
  counter = counter + 1
  local k = (counter %% #bodies) + 1
  local b = bodies[k]
  if b.method == "GET" then
    return wrk.format("GET", b.path)
  end
  return wrk.format("POST", "/v1/screen", {["Content-Type"] = "application/json"}, b.body)
end
done = function(summary, latency, requests)
  io.write(string.format("JSON{\"requests\":%%d,\"duration_us\":%%d,\"errors_connect\":%%d,\"errors_read\":%%d,\"errors_write\":%%d,\"errors_status\":%%d,\"errors_timeout\":%%d,\"p50_us\":%%d,\"p90_us\":%%d,\"p99_us\":%%d,\"max_us\":%%d}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def build_requests(
    seed: int,
    bbox: tuple[float, float, float, float],
    ogc_layer: str,
    ogc_features: int = 40,
    mix: str = "mixed",
    count: int = 2000,
) -> list[dict]:
    """A deterministic request mix inside ``bbox`` (lon/lat).

    ``mixed``: 6 point : 2 polygon : 1 line screens : 1 OGC items page (at a random offset of
    the ``ogc_features`` features, as a client paging through a layer); ``points``: point
    screens only. ``count`` distinct requests, cycled by wrk.
    """
    rng = random.Random(seed)
    minx, miny, maxx, maxy = bbox
    out: list[dict] = []
    types = ["solar_pv", "chemical", "road", "wind", "mining", None]
    for i in range(count):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        project = rng.choice(types)
        kind = 0 if mix == "points" else i % 10
        if kind < 6:
            geom = {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]}
        elif kind < 8:
            d = rng.uniform(0.005, 0.03)
            geom = {
                "type": "Polygon",
                "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
            }
        elif kind < 9:
            geom = {
                "type": "LineString",
                "coordinates": [[x, y], [x + rng.uniform(0.02, 0.2), y + rng.uniform(-0.1, 0.1)]],
            }
        else:
            out.append(
                {
                    "method": "GET",
                    "path": f"/ogc/collections/{ogc_layer}/items?f=json&limit=20"
                    f"&offset={rng.randint(0, max(0, ogc_features - 20))}",
                }
            )
            continue
        body = {"geometry": geom}
        if project:
            body["project"] = {"type": project}
        out.append({"method": "POST", "body": json.dumps(body)})
    return out


def lua_script(requests: list[dict]) -> str:
    lines = []
    for r in requests:
        if r["method"] == "GET":
            lines.append(f'bodies[#bodies+1] = {{method="GET", path={_lua_string(r["path"])}}}')
        else:
            lines.append(f'bodies[#bodies+1] = {{method="POST", body={_lua_string(r["body"])}}}')
    return LUA % {"bodies": "\n".join(lines)}


def worker_memory(parent_pid: int) -> list[dict]:
    """RSS and PSS (MB) of the server process tree (PSS splits shared pages fairly)."""
    pids = [parent_pid]
    try:
        children = subprocess.run(
            ["pgrep", "-P", str(parent_pid)], capture_output=True, text=True
        ).stdout.split()
        pids += [int(p) for p in children]
    except OSError:
        pass
    out = []
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss = int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1)) / 1024
        pss = int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1)) / 1024
        out.append({"pid": pid, "rss_mb": round(rss, 1), "pss_mb": round(pss, 1)})
    return out


def run(
    data: Path, workers: int, duration: int, connections: int, threads: int, mix: str = "mixed"
) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian package wrk; make system-deps)")
    catalog = json.loads((data / "catalog.json").read_text())
    qh = [e for e in catalog["layers"] if e["region"] == "qinghai" and e["kind"] == "admin"]
    bbox = tuple(qh[0]["bbox"]) if qh else tuple(catalog["layers"][0]["bbox"])
    ogc_entry = next(e for e in catalog["layers"] if e["kind"] == "ecological_red_line")
    ogc_layer = ogc_entry["id"]
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="zoning-load-"))
    env = {**os.environ, "ZONING_DATA_DIR": str(data), "ZONING_STATE_DIR": str(state)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > 300:
                raise SystemExit("server did not start within 300 s")
            time.sleep(0.2)
        startup_s = time.perf_counter() - t0
        script = state / "mix.lua"
        requests = build_requests(
            20261121, bbox, ogc_layer, int(ogc_entry["feature_count"]), mix
        )
        script.write_text(lua_script(requests))
        memory_before = worker_memory(server.pid)
        proc = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{duration}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 120,
        )
        memory_after = worker_memory(server.pid)
        match = re.search(r"JSON(\{.*\})", proc.stdout)
        if not match:
            raise SystemExit(f"wrk output not understood:\n{proc.stdout}\n{proc.stderr}")
        stats = json.loads(match.group(1))
        errors = sum(v for k, v in stats.items() if k.startswith("errors_"))
        return {
            "measured_at": time.strftime("%Y-%m-%d %H:%M"),
            "mix": mix,
            "data": str(data),
            "workers": workers,
            "connections": connections,
            "duration_s": stats["duration_us"] / 1e6,
            "requests": stats["requests"],
            "throughput_rps": round(stats["requests"] / (stats["duration_us"] / 1e6), 1),
            "p50_ms": stats["p50_us"] / 1000,
            "p90_ms": stats["p90_us"] / 1000,
            "p99_ms": stats["p99_us"] / 1000,
            "max_ms": stats["max_us"] / 1000,
            "errors": errors,
            "error_detail": {k: v for k, v in stats.items() if k.startswith("errors_")},
            "startup_s": round(startup_s, 1),
            "memory_before": memory_before,
            "memory_after": memory_after,
            "load_average": os.getloadavg(),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("ZONING_DATA_DIR", "data/processed"))
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mix", choices=("mixed", "points"), default="mixed")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    result = run(
        args.data.resolve(), args.workers, args.duration, args.connections, args.threads, args.mix
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
