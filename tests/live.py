"""Helpers for tests that talk to a running service: a free port, a health wait, a job wait."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path | None = None) -> None:
    """Wait until ``url``/healthz answers 200; on exit or timeout kill ``proc`` and raise with its log."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=15)
            tail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
            raise RuntimeError(f"server did not start (exit {proc.returncode}): {tail}")
        time.sleep(0.2)


def wait_job(client: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll ``GET /v1/batch/{job_id}`` (httpx or TestClient) until the job completed or failed."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/batch/{job_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"batch job {job_id} did not finish: {body}")
