"""Restricted layers never leave the server without the download token; admin needs its token.

The fixture's ``national_park`` (box 101.6–101.9 E, 36.5–36.8 N) is ``access: restricted``;
``eco_redline`` is public and serves as the control that shows each check can fail.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import ADMIN_TOKEN, DOWNLOAD_TOKEN, settings_for
from tests.reliability.conftest import REPO, Sandbox

RESTRICTED = "national_park"
TOKEN = {"Authorization": f"Bearer {DOWNLOAD_TOKEN}"}
# Vertices of the restricted boundary, as they would appear in any serialisation.
PARK_VERTEX = re.compile(r"101\.6\D{1,6}36\.5|101\.9\D{1,6}36\.8|101\.6\D{1,6}36\.8|101\.9\D{1,6}36\.5")
# A site that crosses the park's west edge (101.6) and a public red-line square (control).
SITE_WKT = "POLYGON ((101.55 36.55, 101.71 36.55, 101.71 36.61, 101.55 36.61, 101.55 36.55))"


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "fgb", "shp"])
def test_download_restricted_needs_token(http: httpx.Client, fmt: str) -> None:
    denied = http.get(f"/v1/layers/{RESTRICTED}/download", params={"format": fmt})
    assert denied.status_code == 403
    assert denied.json()["field"] == "Authorization"
    wrong = http.get(f"/v1/layers/{RESTRICTED}/download", params={"format": fmt},
                     headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    ok = http.get(f"/v1/layers/{RESTRICTED}/download", params={"format": fmt}, headers=TOKEN)
    assert ok.status_code == 200 and len(ok.content) > 100
    public = http.get("/v1/layers/eco_redline/download", params={"format": fmt})
    assert public.status_code == 200


def test_ogc_items_and_item_are_forbidden_listing_is_not(http: httpx.Client) -> None:
    base = f"/ogc/collections/{RESTRICTED}"
    assert http.get(base).status_code == 200  # metadata only
    for path in (f"{base}/items", f"{base}/items/NP1", f"{base}/items?f=html"):
        r = http.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert not PARK_VERTEX.search(r.text)
    assert http.get(f"{base}/items", headers=TOKEN).status_code == 200
    assert http.get("/ogc/collections/eco_redline/items").status_code == 200


def test_web_page_draws_no_restricted_boundary(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert not PARK_VERTEX.search(page.text)
    # The page draws layers through /ogc items; those answer 403 for the restricted layer.
    assert http.get(f"/ogc/collections/{RESTRICTED}/items", params={"limit": 1000}).status_code == 403


def test_screening_says_overlap_but_not_where(http: httpx.Client) -> None:
    r = http.post("/v1/screen", json={"wkt": SITE_WKT})
    assert r.status_code == 200
    result = r.json()
    park_hits = [h for h in result["hits"] if h["layer"] == RESTRICTED]
    assert park_hits and park_hits[0]["overlap_area_m2"] > 0
    for hit in park_hits:
        assert "geometry" not in hit and "coordinates" not in str(hit)
        for value in (hit.get("attributes") or {}).values():
            assert not isinstance(value, dict | list), value
    assert not PARK_VERTEX.search(r.text)
    # The report names the layer as not drawn.
    report = http.get(f"/v1/results/{result['result_id']}/report")
    if report.status_code == 200:
        assert "受限图层不在地图上显示边界" in report.text
        assert not PARK_VERTEX.search(report.text)


def _batch(http: httpx.Client, fmt: str) -> bytes:
    csv = f'编号,wkt\nP1,"{SITE_WKT}"\n'.encode()
    job = http.post("/v1/batch", files={"file": ("sites.csv", csv)}).json()
    deadline = time.monotonic() + 60
    while (status := http.get(f"/v1/batch/{job['job_id']}").json())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["status"] == "completed", status
    out = http.get(f"/v1/batch/{job['job_id']}/result", params={"format": fmt})
    assert out.status_code == 200
    return out.content


def test_batch_outputs_hold_no_restricted_overlap_geometry(http: httpx.Client, tmp_path: Path) -> None:
    gpkg = tmp_path / "out.gpkg"
    gpkg.write_bytes(_batch(http, "gpkg"))
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(gpkg)]
    assert "overlaps" in layers, layers
    hits = gpd.read_file(gpkg, layer="overlaps")
    park = hits[hits["layer"] == RESTRICTED]
    public = hits[(hits["layer"] == "eco_redline") & hits.geometry.notna() & ~hits.geometry.is_empty]
    # Overlap rows with no geometry may be left out of this layer; none may carry one.
    assert (park.geometry.isna() | park.geometry.is_empty).all(), park.geometry
    assert len(public) >= 1  # control: public overlaps are written
    geojson = _batch(http, "geojson").decode()
    assert not PARK_VERTEX.search(geojson)


def test_admin_reload_needs_admin_token(http: httpx.Client) -> None:
    assert http.post("/v1/admin/reload").status_code == 401
    assert http.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.post("/v1/admin/reload", headers=TOKEN).status_code == 401  # download ≠ admin
    ok = http.post("/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200, ok.text


def test_admin_disabled_without_configured_token(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = settings_for(sandbox.data, admin_token=None, state_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/admin/reload", headers={"Authorization": "Bearer "}).status_code == 403


def test_tokens_compared_in_constant_time() -> None:
    deps = (REPO / "app" / "deps.py").read_text()
    assert "hmac.compare_digest" in deps
    # No plain comparison of a token anywhere in the app.
    for path in (REPO / "app").rglob("*.py"):
        text = path.read_text()
        assert not re.search(
            r"(admin_token|download_token|authorization|sent)\s*(==|!=)"
            r"|(==|!=)\s*(settings\.)?(admin_token|download_token)\b",
            text,
            re.IGNORECASE,
        ), path


def test_cors_closed_by_default_and_open_when_configured(
    http: httpx.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    evil = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in http.get("/healthz", headers=evil).headers
    pre = http.options("/v1/screen", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers
    good = "https://gis.example.gov.cn"
    settings = settings_for(sandbox.data, cors_origins=[good], state_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz", headers={"Origin": good}).headers["access-control-allow-origin"] == good
        assert "access-control-allow-origin" not in c.get("/healthz", headers=evil).headers


def test_uploads_leave_no_temp_files(http: httpx.Client, sandbox: Sandbox) -> None:
    before = sorted(sandbox.tmp.rglob("*"))
    ok = http.post("/v1/sites/parse", files={"file": ("s.geojson", io.BytesIO(
        b'{"type":"Point","coordinates":[101.7,36.6]}'))})
    assert ok.status_code == 200, ok.text
    assert http.post("/v1/sites/parse", files={"file": ("s.geojson", b"{broken")}).status_code == 422
    assert http.post("/v1/sites/parse", files={"file": ("s.kml", b"<!DOCTYPE x>")}).status_code == 422
    assert http.post("/v1/sites/parse", files={"file": ("s.geojson", b" " * 3_100_000)}).status_code == 413
    assert sorted(sandbox.tmp.rglob("*")) == before == []
