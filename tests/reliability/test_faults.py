"""Faults: corrupt data at start-up and on reload, a full disk, a layer that changes under us.

Killing the server in the middle of a batch job is covered by the batch tests
(tests/batch/test_kill_resume.py, tests/batch/test_http.py); docs/limits.md points there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely
from fastapi.testclient import TestClient

from app.main import create_app
from layers.catalog import read_catalog, sha256_file, write_catalog
from tests.app.conftest import ADMIN_TOKEN, make_data, settings_for
from tests.reliability.conftest import REPO, free_port

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SITE = {"wkt": "POLYGON ((101.70 36.60, 101.71 36.60, 101.71 36.61, 101.70 36.61, 101.70 36.60))"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("pristine") / "processed")


@pytest.fixture()
def data(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "processed"
    shutil.copytree(pristine, target)
    return target


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


DAMAGE = {"truncated": truncate, "bit-flip": flip_byte, "missing": Path.unlink}


def _serve(data: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZONING_")}
    env.update(PYTHONPATH=str(REPO), ZONING_STATE_DIR=str(tmp_path / "state"),
               ZONING_RELOAD_POLL_SECONDS="0")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--data", str(data), "--port", str(free_port()),
         "--log-level", "warning", *extra],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_serve_refuses_damaged_data_naming_the_file(data: Path, tmp_path: Path, damage: str) -> None:
    DAMAGE[damage](data / "layers" / "eco_redline.parquet")
    proc = _serve(data, tmp_path)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode not in (0, None), out[-2000:]
    assert "start-up refused" in out and "eco_redline" in out, out[-2000:]


def test_serve_can_start_degraded_when_asked(data: Path, tmp_path: Path) -> None:
    truncate(data / "layers" / "eco_redline.parquet")
    port_proc = _serve(data, tmp_path, "--allow-degraded")
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and port_proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError, StopIteration):
                port = _port_of(port_proc)
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            time.sleep(0.3)
        assert port_proc.poll() is None, "the degraded server exited"
        assert health is not None
        assert health.json()["status"] != "ok"
        assert "eco_redline" in str(health.json())
    finally:
        port_proc.terminate()
        port_proc.wait(timeout=10)


def _port_of(proc: subprocess.Popen[str]) -> int:
    args = proc.args
    assert isinstance(args, list)
    return int(args[args.index("--port") + 1])


@pytest.fixture()
def client(data: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(data, state_dir=tmp_path / "state", reload_poll_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_reload_with_bad_data_keeps_serving_the_old(client: TestClient, data: Path) -> None:
    before = client.get("/healthz").json()["data_version"]
    assert client.post("/v1/screen", json=SITE).status_code == 200
    flip_byte(data / "layers" / "eco_redline.parquet")
    r = client.post("/v1/admin/reload", headers=ADMIN)
    assert r.status_code == 409, r.text
    assert "eco_redline" in r.json()["detail"]
    health = client.get("/healthz").json()
    assert health["data_version"] == before
    assert "eco_redline" in (health["reload"]["error"] or "")
    assert client.post("/v1/screen", json=SITE).status_code == 200
    assert client.get("/ogc/collections/eco_redline/items").status_code == 200


def _change_layer(data: Path) -> None:
    """Rebuild eco_redline with one square moved, as a new `zoning build` would, and re-catalog."""
    path = data / "layers" / "eco_redline.parquet"
    gdf = gpd.read_parquet(path)
    gdf.loc[0, "geometry"] = shapely.box(101.80, 36.80, 101.82, 36.82)
    gdf.to_parquet(path)
    catalog = read_catalog(data)
    layers = [e.model_copy(update={"version": sha256_file(path)}) if e.id == "eco_redline" else e
              for e in catalog.layers]
    write_catalog(data, catalog.model_copy(update={"layers": layers}))


def test_results_carry_the_layer_version_they_used(client: TestClient, data: Path) -> None:
    first = client.post("/v1/screen", json=SITE).json()
    old_version = first["versions"]["layers"]["eco_redline"]
    _change_layer(data)
    assert client.post("/v1/admin/reload", headers=ADMIN).status_code == 200
    second = client.post("/v1/screen", json=SITE).json()
    new_version = second["versions"]["layers"]["eco_redline"]
    assert new_version != old_version
    assert new_version == read_catalog(data).get("eco_redline").version  # type: ignore[union-attr]
    stored = client.get(f"/v1/results/{first['result_id']}")
    assert stored.status_code == 200
    assert stored.json()["versions"]["layers"]["eco_redline"] == old_version


# --- a full disk (a real 256 kB tmpfs; the tests run as root in CI) ---------------------------


@pytest.fixture()
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_download_on_a_full_disk_fails_cleanly(
    client: TestClient, full_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(full_disk))
    (full_disk / "filler").write_bytes(b"\0" * (240 * 1024))
    r = client.get("/v1/layers/eco_redline/download", params={"format": "gpkg"})
    assert 500 <= r.status_code < 600 and r.status_code != 500, (r.status_code, r.text[:300])
    assert r.json()["code"] == "insufficient_storage"
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no half-file left


def test_batch_on_a_full_disk_fails_cleanly(data: Path, full_disk: Path) -> None:
    """Upload fits, results do not: the job must end failed (never completed) once space is back.

    While the disk is full the job store itself (SQLite) may not be readable; those answers must
    still be JSON errors, and no result may be offered as complete.
    """
    settings = settings_for(data, state_dir=full_disk / "state", reload_poll_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        (full_disk / "filler").write_bytes(b"\0" * (FILLER_KB * 1024))
        rows = "".join(f"P{i},101.{i % 90:02d},36.6\n" for i in range(400))
        r = c.post("/v1/batch", files={"file": ("s.csv", ("编号,经度,纬度\n" + rows).encode())})
        if r.status_code != 202:  # refused at upload: must be a clear storage error
            assert r.json()["code"] == "insufficient_storage", r.text
            return
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = c.get(f"/v1/batch/{job_id}")
            assert set(status.json()) >= {"code", "detail"} if status.status_code >= 500 else True
            if status.status_code >= 500 or status.json()["status"] in ("completed", "failed"):
                break
            time.sleep(0.2)
        result = c.get(f"/v1/batch/{job_id}/result", params={"format": "csv"})
        assert result.status_code != 200, "a result was offered while the disk was full"
        (full_disk / "filler").unlink()  # space is back: the failure gets recorded
        deadline = time.monotonic() + 30
        while (final := c.get(f"/v1/batch/{job_id}").json()).get("status") != "failed":
            assert final.get("status") != "completed", final
            assert time.monotonic() < deadline, final
            time.sleep(0.3)
        assert "disk" in final["error"].lower() or "space" in final["error"].lower(), final
        assert c.get(f"/v1/batch/{job_id}/result", params={"format": "csv"}).status_code == 409


FILLER_KB = 160
