"""Batch jobs over HTTP: upload → 202 → progress → results; jobs survive a server restart."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.batch.conftest import SPEC, sample_frame
from tests.live import wait_job
from zoning.batch.engine import BatchOptions, run_batch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from app.main import create_app
    from app.settings import ZoningSettings

    monkeypatch.setenv("ZONING_BATCH_SCREENER", SPEC.factory)
    monkeypatch.setenv("ZONING_BATCH_CHUNK_ROWS", "15")
    settings = ZoningSettings(state_dir=tmp_path / "state", data_dir=tmp_path / "no-data",
                              max_upload_bytes=200_000, max_batch_rows=1000)
    with TestClient(create_app(settings)) as c:
        yield c


def _csv_bytes(n: int) -> bytes:
    buf = io.BytesIO()
    sample_frame(n).to_csv(buf, index=False, encoding="gbk")
    return buf.getvalue()


def test_job_lifecycle(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/v1/batch", files={"file": ("项目.csv", _csv_bytes(40), "text/csv")},
                    data={"project_type": "solar"})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.json()["rows_total"] == 40
    early = client.get(f"/v1/batch/{job_id}/result?format=csv")
    assert early.status_code in (200, 409)  # 409 until completed, never a partial file
    body = wait_job(client, job_id)
    assert body["status"] == "completed", body
    assert (body["rows_done"], body["rows_total"], body["error_rows"]) == (40, 40, 16)
    csv = client.get(f"/v1/batch/{job_id}/result?format=csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    got = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    src = tmp_path / "in.csv"
    src.write_bytes(_csv_bytes(40))
    run_batch(src, tmp_path / "ref.csv", BatchOptions(project_type="solar", spec=SPEC))
    ref = pd.read_csv(tmp_path / "ref.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, ref)
    xlsx = client.get(f"/v1/batch/{job_id}/result", params={"format": "xlsx"})
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames == ["results", "hits", "summary"]
    for fmt in ("geojson", "gpkg"):
        assert client.get(f"/v1/batch/{job_id}/result", params={"format": fmt}).status_code == 200


def test_bad_uploads_are_refused_with_field_and_hint(client: TestClient) -> None:
    r = client.post("/v1/batch", files={"file": ("x.csv", "名称,地址\na,b\n".encode(), "text/csv")})
    assert r.status_code == 400 and r.json()["field"] == "columns"
    r = client.post("/v1/batch", files={"file": ("big.csv", b"lon,lat\n" + b"101.1,36.1\n" * 30_000, "text/csv")})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    r = client.post("/v1/batch", files={"file": ("x.csv", _csv_bytes(5), "text/csv")}, data={"crs": "EPSG:999999"})
    assert r.status_code == 422 and r.json()["field"] == "crs"
    assert client.get("/v1/batch/nope").status_code == 404
    assert client.get("/v1/batch/nope/result").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(state: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ZONING_STATE_DIR": str(state),
           "ZONING_DATA_DIR": str(state / "no-data"), "ZONING_BATCH_CHUNK_ROWS": "20",
           "ZONING_BATCH_SCREENER": "tests.batch.zones:make_slow_screener"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _up(http: httpx.Client, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
        try:
            http.get("/v1/batch/ping")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def test_job_survives_server_crash_and_restart(tmp_path: Path) -> None:
    state, port = tmp_path / "state", _free_port()
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    server = _serve(state, port)
    try:
        _up(http, server)
        r = http.post("/v1/batch", files={"file": ("p.csv", _csv_bytes(200), "text/csv")},
                      data={"project_type": "solar"})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        done = http.post("/v1/batch", files={"file": ("small.csv", _csv_bytes(10), "text/csv")})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = http.get(f"/v1/batch/{job_id}").json()
            if status["rows_done"] >= 40:
                break
            time.sleep(0.05)
        assert status["status"] == "running" and status["rows_done"] < 200
        server.send_signal(signal.SIGKILL)  # a crash: no shutdown hook runs
        server.wait(30)

        server = _serve(state, port)
        _up(http, server)
        final = wait_job(http, job_id, timeout=120)
        assert final["status"] == "completed", final
        assert final["attempts"] == 2 and final["note"] == "resumed after a server restart"
        assert (final["rows_done"], final["error_rows"]) == (200, 80)
        small = wait_job(http, done.json()["job_id"])  # the queued job ran after the restart too
        assert small["status"] == "completed"
        csv = http.get(f"/v1/batch/{job_id}/result", params={"format": "csv"})
        got = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert list(got["row"].astype(int)) == list(range(1, 201))

        server.send_signal(signal.SIGTERM)  # graceful this time; results stay downloadable
        server.wait(30)
        server = _serve(state, port)
        _up(http, server)
        again = http.get(f"/v1/batch/{job_id}/result", params={"format": "csv"})
        assert again.status_code == 200 and again.content == csv.content
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        http.close()
