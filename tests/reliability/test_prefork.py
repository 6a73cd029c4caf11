"""``zoning serve --workers 2``: data loaded once in the master, workers forked, all answering.

Real processes on loopback: the service is started the way users start it, hit concurrently
(point screens read the DEM through their own raster handles after the fork), and stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefork_server(bundled_data_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "ZONING_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--data", str(bundled_data_dir),
             "--port", str(port), "--workers", "2", "--log-level", "warning"],
            env=env, cwd=tmp_path, stdout=fh, stderr=fh,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, timeout_s=120, log_path=log)
    yield proc, url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_forked_workers_share_one_load_and_all_answer(prefork_server) -> None:  # type: ignore[no-untyped-def]
    proc, url = prefork_server
    workers = _children(proc.pid)
    assert len(workers) == 2
    body = {"geometry": {"type": "Point", "coordinates": [101.78, 36.62]}}
    with httpx.Client(timeout=60) as client:

        def screen(_: int) -> tuple[int, dict]:
            r = client.post(f"{url}/v1/screen", json=body)
            return r.status_code, r.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(screen, range(40)))
    assert {code for code, _ in answers} == {200}
    verdicts = {a["verdict"] for _, a in answers}
    assert len(verdicts) == 1  # every worker gives the same answer
    dem = [r for r in answers[0][1]["rasters"] if r["layer"].endswith("_dem")]
    assert dem and all(a["rasters"] == answers[0][1]["rasters"] for _, a in answers)
    # the workers did not load the data themselves: their private memory is well below the
    # master's, which holds the loaded layers (PSS splits the shared pages between them)
    private = [_private_mb(pid) for pid in workers]
    assert all(p < _rss_mb(proc.pid) for p in private), (private, _rss_mb(proc.pid))


def _private_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    fields = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]}
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("Rss:")) / 1024


def test_sighup_to_the_master_reforks_workers_that_keep_answering(prefork_server) -> None:  # type: ignore[no-untyped-def]
    import signal
    import time

    proc, url = prefork_server
    before = set(_children(proc.pid))
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = set(_children(proc.pid))
        if len(now) == 2 and not now & before:
            break
        time.sleep(0.3)
    assert len(now) == 2 and not now & before, (before, now)
    body = {"geometry": {"type": "Point", "coordinates": [101.78, 36.62]}}
    r = httpx.post(f"{url}/v1/screen", json=body, timeout=60)
    assert r.status_code == 200 and r.json()["verdict"]
    assert httpx.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
