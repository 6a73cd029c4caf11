"""Fixtures for the reliability tests: a live service in a sandbox folder tree we can audit.

Why a real uvicorn process in its own folder tree: "nothing is written outside the data and state
folders" can only be checked if the server's working directory, temp directory, data and state
all live under one root that the test lists before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import ADMIN_TOKEN, DOWNLOAD_TOKEN, make_data
from tests.live import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sandbox:
    root: Path
    data: Path
    state: Path
    tmp: Path
    cwd: Path
    url: str

    def tree(self) -> set[str]:
        """Every path under the sandbox except the state folder (the server's own to write)."""
        out = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root)
            if rel.parts[:1] == ("state",):
                continue
            out.update(str(rel / n) for n in dirnames + filenames)
        return out


def start_server(root: Path, data: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start uvicorn on a free loopback port with cwd/TMPDIR/state inside ``root``."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        ZONING_DATA_DIR=str(data),
        ZONING_STATE_DIR=str(root / "state"),
        ZONING_DOWNLOAD_TOKEN=DOWNLOAD_TOKEN,
        ZONING_ADMIN_TOKEN=ADMIN_TOKEN,
        ZONING_MAX_BODY_BYTES="2000000",
        ZONING_MAX_UPLOAD_BYTES="3000000",
        ZONING_MAX_BATCH_ROWS="1000",
        ZONING_MAX_VERTICES="50000",
        ZONING_RELOAD_POLL_SECONDS="0",
        TMPDIR=str(root / "tmp"),
        PYTHONPATH=str(REPO),
    )
    env.update(extra_env or {})
    with open(root / "state" / "server.log", "ab") as log_file:  # Popen keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, cwd=root / "cwd", stdout=subprocess.DEVNULL, stderr=log_file,
        )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, timeout_s=90, log_path=root / "state" / "server.log")
    return proc, url


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("sandbox")
    for name in ("tmp", "cwd", "state"):
        (root / name).mkdir()
    data = make_data(root / "data")
    proc, url = start_server(root, data)
    try:
        yield Sandbox(root, data, root / "state", root / "tmp", root / "cwd", url)
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=60) as c:
        yield c
