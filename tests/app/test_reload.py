"""Reload: admin token, atomic swap, failed reload keeps serving the old data, SIGHUP."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from layers.catalog import read_catalog, write_catalog
from tests.app.conftest import ADMIN_TOKEN, settings_for, start_server, stop_server

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _drop_layer(data_dir: Path, layer_id: str) -> None:
    catalog = read_catalog(data_dir)
    catalog.layers = [e for e in catalog.layers if e.id != layer_id]
    write_catalog(data_dir, catalog)


def _corrupt(data_dir: Path, layer_id: str) -> None:
    path = data_dir / "layers" / f"{layer_id}.parquet"
    path.write_bytes(path.read_bytes()[:-100])


def test_reload_needs_the_admin_token(private_data_dir: Path) -> None:
    with TestClient(create_app(settings_for(private_data_dir))) as c:
        r = c.post("/v1/admin/reload")
        assert r.status_code == 401
        assert r.json()["field"] == "Authorization"
        assert r.headers["www-authenticate"] == "Bearer"
        assert (
            c.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
    with TestClient(create_app(settings_for(private_data_dir, admin_token=None))) as c:
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 403
        assert "SIGHUP" in r.json()["hint"]


def test_reload_swaps_to_new_data(private_data_dir: Path) -> None:
    with TestClient(create_app(settings_for(private_data_dir))) as c:
        before = c.get("/healthz").json()["data_version"]
        assert c.get("/ogc/collections/rivers").status_code == 200
        _drop_layer(private_data_dir, "rivers")
        assert c.get("/ogc/collections/rivers").status_code == 200  # nothing changes until reload
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 200
        assert r.json()["ok"] is True
        assert r.json()["data_version"] != before
        assert c.get("/ogc/collections/rivers").status_code == 404
        health = c.get("/healthz").json()
        assert health["data_version"] == r.json()["data_version"]
        assert "rivers" not in health["layers"]
        assert health["reload"]["ok"] is True


def test_failed_reload_keeps_serving_old_data_and_says_why(private_data_dir: Path) -> None:
    with TestClient(create_app(settings_for(private_data_dir))) as c:
        before = c.get("/healthz").json()["data_version"]
        _corrupt(private_data_dir, "eco_redline")
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 409
        body = r.json()
        assert body["code"] == "reload_failed"
        assert "eco_redline" in body["detail"] and "checksum" in body["detail"]
        health = c.get("/healthz").json()
        assert health["data_version"] == before
        assert health["reload"]["ok"] is False
        assert "eco_redline" in health["reload"]["error"]
        # Old data still served, from memory.
        assert c.get("/ogc/collections/eco_redline/items").json()["numberMatched"] == 25


def test_requests_during_reloads_never_fail(private_data_dir: Path) -> None:
    with TestClient(create_app(settings_for(private_data_dir))) as c:
        errors: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = c.get("/ogc/collections/eco_redline/items?limit=25")
                if r.status_code != 200 or r.json()["numberReturned"] != 25:
                    errors.append(r.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                assert c.post("/v1/admin/reload", headers=AUTH).status_code == 200
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert errors == []


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_a_live_server(private_data_dir: Path) -> None:
    proc, url = start_server(private_data_dir, private_data_dir.parent / "server.log")
    try:
        assert httpx.get(f"{url}/ogc/collections/rivers").status_code == 200
        _drop_layer(private_data_dir, "rivers")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/healthz").json()["reload"]["ok"] is None:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.2)
        assert httpx.get(f"{url}/healthz").json()["reload"]["trigger"] == "SIGHUP"
        assert httpx.get(f"{url}/ogc/collections/rivers").status_code == 404
        assert proc.poll() is None  # still serving
    finally:
        stop_server(proc)


def test_other_workers_follow_an_announced_reload(private_data_dir: Path) -> None:
    """Two apps on one data and state dir stand in for two uvicorn worker processes."""
    settings = settings_for(private_data_dir, reload_poll_seconds=0.1)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert b.get("/ogc/collections/rivers").status_code == 200
        _drop_layer(private_data_dir, "rivers")
        assert a.post("/v1/admin/reload", headers=AUTH).status_code == 200
        deadline = time.monotonic() + 120
        while b.get("/ogc/collections/rivers").status_code != 404:
            assert time.monotonic() < deadline, "worker b did not follow the reload"
            time.sleep(0.1)
        assert b.get("/healthz").json()["reload"]["trigger"] == "another worker reloaded"
        assert b.get("/healthz").json()["data_version"] == a.get("/healthz").json()["data_version"]
