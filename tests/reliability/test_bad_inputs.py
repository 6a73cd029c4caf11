"""A catalog of malformed and hostile inputs against every surface; each must fail cleanly.

Each row: id, surface, the request, the accepted status range and the ``field`` the error must
name. HTTP errors must be JSON ``{code, detail, field, hint}``; batch inputs with broken rows
must be accepted and report per-row errors. After the whole catalog the server is still up and
nothing was written outside its state folder (the temp folder is left empty, ``../../x`` is
created nowhere). The CLI rows run ``zoning`` in a subprocess: exit code 2, one line, no
traceback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import wait_job
from tests.reliability import inputs as I
from tests.reliability.conftest import REPO, Sandbox

ERROR_KEYS = {"code", "detail", "field", "hint"}
ITEMS = "/ogc/collections/eco_redline/items"


@dataclass(frozen=True)
class Case:
    id: str
    surface: str
    method: str
    path: str
    request: Callable[[], dict[str, Any]]
    status: tuple[int, int] = (400, 499)  # inclusive range
    field: str | None = None  # the error must name this field (prefix match)
    row_errors: bool = False  # batch: accepted, then per-row errors
    warns: bool = False  # screening repaired the input: 200 and site.warnings says so


def body(text: str | bytes) -> Callable[[], dict[str, Any]]:
    return lambda: {"content": text, "headers": {"Content-Type": "application/json"}}


def js(obj: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"json": obj}


def upload(name: str, data: bytes | Callable[[], bytes], **form: str) -> Callable[[], dict[str, Any]]:
    return lambda: {"files": {"file": (name, data() if callable(data) else data)}, "data": form}


def chunked(size: int) -> Callable[[], dict[str, Any]]:
    def gen() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            yield b" " * 65536
            sent += 65536

    return lambda: {"content": gen(), "headers": {"Content-Type": "application/json"}}


def geom(g: Any, **kw: Any) -> Callable[[], dict[str, Any]]:
    return js({"geometry": g, **kw})


BOWTIE = [[101.70, 36.60], [101.72, 36.62], [101.72, 36.60], [101.70, 36.62], [101.70, 36.60]]
UNCLOSED = [[101.70, 36.60], [101.72, 36.60], [101.72, 36.62], [101.70, 36.62]]

SCREEN = [
    Case("screen-broken-json", "screen", "POST", "/v1/screen", body('{"geometry": {"type": "Point",'), field="body"),
    Case("screen-not-json", "screen", "POST", "/v1/screen", body(b"\xff\xfe\x00garbage")),
    Case("screen-json-array", "screen", "POST", "/v1/screen", body("[1, 2, 3]")),
    Case("screen-empty-body", "screen", "POST", "/v1/screen", body("")),
    Case("screen-no-site", "screen", "POST", "/v1/screen", js({"crs": "EPSG:4326"})),
    Case("screen-unknown-type", "screen", "POST", "/v1/screen", geom({"type": "Circle", "coordinates": [101.7, 36.6]}), field="geometry"),
    Case("screen-feature-collection", "screen", "POST", "/v1/screen", geom({"type": "FeatureCollection", "features": []}), field="geometry"),
    Case("screen-coords-string", "screen", "POST", "/v1/screen", geom({"type": "Point", "coordinates": "101.7,36.6"}), field="geometry"),
    Case("screen-point-3-numbers-of-text", "screen", "POST", "/v1/screen", geom({"type": "Point", "coordinates": ["a", "b"]}), field="geometry"),
    Case("screen-unclosed-ring", "screen", "POST", "/v1/screen", geom({"type": "Polygon", "coordinates": [UNCLOSED]}), status=(200, 200), warns=True),
    Case("screen-bowtie", "screen", "POST", "/v1/screen", geom({"type": "Polygon", "coordinates": [BOWTIE]}), status=(200, 200), warns=True),
    Case("screen-ring-2-points", "screen", "POST", "/v1/screen", geom({"type": "Polygon", "coordinates": [[[101.7, 36.6], [101.7, 36.6]]]}), field="geometry"),
    Case("screen-nan-string", "screen", "POST", "/v1/screen", geom({"type": "Point", "coordinates": ["NaN", 36.6]}), field="geometry"),
    Case("screen-nan-literal", "screen", "POST", "/v1/screen", body('{"geometry": {"type": "Point", "coordinates": [NaN, 36.6]}}'), field="geometry"),
    Case("screen-inf-exponent", "screen", "POST", "/v1/screen", body('{"geometry": {"type": "Point", "coordinates": [1e999, 36.6]}}')),
    Case("screen-wkt-nan", "screen", "POST", "/v1/screen", js({"wkt": "POINT (nan 36.6)"}), field="wkt"),
    Case("screen-wkt-inf", "screen", "POST", "/v1/screen", js({"wkt": "POLYGON ((101.7 36.6, inf 36.6, 101.72 36.62, 101.7 36.6))"}), field="wkt"),
    Case("screen-wkt-garbage", "screen", "POST", "/v1/screen", js({"wkt": "POLYGON ((101.7 36.6, "}), field="wkt"),
    Case("screen-lonlat-inf", "screen", "POST", "/v1/screen", body('{"lonlat": [1e400, 36.6]}')),
    Case("screen-million-vertices", "screen", "POST", "/v1/screen", geom(I.polygon(1_000_000)), status=(413, 413), field="body"),
    Case("screen-too-many-vertices", "screen", "POST", "/v1/screen", geom(I.polygon(60_000)), status=(413, 413), field="geometry"),
    Case("screen-nested-collection-json", "screen", "POST", "/v1/screen", body(I.nested_json(5000))),
    Case("screen-nested-collection-wkt", "screen", "POST", "/v1/screen", js({"wkt": I.nested_wkt(300)}), field="wkt"),
    Case("screen-unknown-epsg", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "crs": "EPSG:999999"}), field="crs"),
    Case("screen-proj-string", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "crs": "+proj=lol +datum=nope"}), field="crs"),
    Case("screen-swapped-latlon", "screen", "POST", "/v1/screen", geom({"type": "Point", "coordinates": [36.6, 101.7]}), field="geometry"),
    Case("screen-gk-as-degrees", "screen", "POST", "/v1/screen", geom({"type": "Point", "coordinates": [34_500_000.0, 4_052_000.0]}, crs="EPSG:4326"), field="crs"),
    Case("screen-lonlat-out-of-range", "screen", "POST", "/v1/screen", js({"lonlat": [200.0, 100.0]})),
    Case("screen-negative-radius", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "radius_m": -5}), field="radius_m"),
    Case("screen-huge-buffer", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "buffers_m": [1e12]}), field="buffers_m"),
    Case("screen-extra-field", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "drop_table": 1}), field="drop_table"),
    Case("screen-bad-date", "screen", "POST", "/v1/screen", js({"lonlat": [101.7, 36.6], "as_of": "2026-13-45"}), field="as_of"),
    Case("screen-body-over-limit", "screen", "POST", "/v1/screen", body(b" " * 2_100_000), status=(413, 413), field="body"),
    Case("screen-chunked-over-limit", "screen", "POST", "/v1/screen", chunked(2_200_000), status=(413, 413), field="body"),
]

SITES = [
    Case("parse-shp-without-shx", "sites", "POST", "/v1/sites/parse", upload("site.zip", lambda: I.shapefile_zip(".shx")), field="file"),
    Case("parse-zip-bomb", "sites", "POST", "/v1/sites/parse", upload("bomb.zip", I.zip_bomb), field="file"),
    Case("parse-zip-traversal", "sites", "POST", "/v1/sites/parse", upload("evil.zip", I.traversal_zip), field="file"),
    Case("parse-kml-xxe", "sites", "POST", "/v1/sites/parse", upload("site.kml", I.KML_XXE), field="file"),
    Case("parse-exe", "sites", "POST", "/v1/sites/parse", upload("site.exe", b"MZ\x90\x00"), field="file"),
    Case("parse-empty", "sites", "POST", "/v1/sites/parse", upload("site.geojson", b""), field="file"),
    Case("parse-not-geojson", "sites", "POST", "/v1/sites/parse", upload("site.geojson", b"{not json"), field="file"),
    Case("parse-not-a-zip", "sites", "POST", "/v1/sites/parse", upload("site.zip", b"PK\x03\x04broken"), field="file"),
    Case("parse-upload-over-limit", "sites", "POST", "/v1/sites/parse", upload("big.geojson", b" " * 3_100_000), status=(413, 413)),
    Case("parse-no-file", "sites", "POST", "/v1/sites/parse", lambda: {"data": {"crs": "EPSG:4326"}}, field="file"),
]

BATCH = [
    Case("batch-csv-gbk-as-bytes", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6"), ("东经101", "36.6")], "gbk")), status=(202, 202), row_errors=True),
    Case("batch-csv-utf16", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6"), ("abc", "36.6")], "utf-16")), field="file"),
    Case("batch-csv-invalid-bytes", "batch", "POST", "/v1/batch", upload("sites.csv", b"\xff\xfe\xfa\x00\x81,\x90\n\x00\x00"), status=(400, 499), field="file"),
    Case("batch-csv-nan-inf-rows", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6"), ("nan", "36.6"), ("inf", "36.6"), ("1e999", "36.6")])), status=(202, 202), row_errors=True),
    Case("batch-csv-swapped", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6"), ("36.6", "101.7"), ("34500000", "4052000")])), status=(202, 202), row_errors=True),
    Case("batch-csv-wkt-bowtie", "batch", "POST", "/v1/batch", upload("sites.csv", "编号,wkt\nP1,\"POLYGON ((101.7 36.6, 101.72 36.62, 101.72 36.6, 101.7 36.62, 101.7 36.6))\"\nP2,\"POLYGON ((101.7 36.6, 101.7\"\n".encode()), status=(202, 202), row_errors=True),
    Case("batch-xlsx-merged-header", "batch", "POST", "/v1/batch", upload("sites.xlsx", I.xlsx_merged_header), field="columns"),
    Case("batch-too-many-rows", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6")] * 1500)), status=(413, 413), field="file"),
    Case("batch-upload-over-limit", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6")] * 200_000)), status=(413, 413)),
    Case("batch-zip-bomb", "batch", "POST", "/v1/batch", upload("bomb.zip", I.zip_bomb), field="file"),
    Case("batch-zip-traversal", "batch", "POST", "/v1/batch", upload("evil.zip", I.traversal_zip), field="file"),
    Case("batch-shp-with-traversal-entry", "batch", "POST", "/v1/batch", upload("sites.zip", lambda: I.shapefile_zip_with({"../../x": b"pwned"})), field="file"),
    Case("batch-shp-with-bomb-entry", "batch", "POST", "/v1/batch", upload("sites.zip", lambda: I.shapefile_zip_with({"pad.txt": b"\0" * 50_000_000})), field="file"),
    Case("batch-shp-without-shx", "batch", "POST", "/v1/batch", upload("site.zip", lambda: I.shapefile_zip(".shx")), field="file"),
    Case("batch-kml-xxe", "batch", "POST", "/v1/batch", upload("sites.kml", I.KML_XXE), field="file"),
    Case("batch-unknown-crs", "batch", "POST", "/v1/batch", upload("sites.csv", I.csv_rows([("101.7", "36.6")]), crs="EPSG:999999"), field="crs"),
    Case("batch-path-in-name", "batch", "POST", "/v1/batch", upload("../../x.csv", b"no,coordinates\n1,2\n"), field="columns"),
]

OGC = [
    Case("ogc-bbox-text", "ogc", "GET", ITEMS, lambda: {"params": {"bbox": "a,b,c,d"}}, status=(400, 400), field="bbox"),
    Case("ogc-bbox-3-numbers", "ogc", "GET", ITEMS, lambda: {"params": {"bbox": "1,2,3"}}, status=(400, 400), field="bbox"),
    Case("ogc-bbox-nan", "ogc", "GET", ITEMS, lambda: {"params": {"bbox": "nan,36,102,37"}}, status=(400, 400), field="bbox"),
    Case("ogc-bbox-5-numbers", "ogc", "GET", ITEMS, lambda: {"params": {"bbox": "101,36,102,37,5"}}, status=(400, 400), field="bbox"),
    Case("ogc-bbox-crs-unknown", "ogc", "GET", ITEMS, lambda: {"params": {"bbox": "101,36,102,37", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/999999"}}, status=(400, 400), field="bbox-crs"),
    Case("ogc-crs-unknown", "ogc", "GET", ITEMS, lambda: {"params": {"crs": "EPSG:lol"}}, status=(400, 400), field="crs"),
    Case("ogc-limit-zero", "ogc", "GET", ITEMS, lambda: {"params": {"limit": "0"}}, status=(400, 400), field="limit"),
    # OGC API Features Part 1 (/req/core/fc-limit-response-1): a limit above the maximum is
    # clamped, not refused; the test checks the page stays bounded.
    Case("ogc-limit-huge", "ogc", "GET", ITEMS, lambda: {"params": {"limit": "1000000000000"}}, status=(200, 200)),
    Case("ogc-limit-negative", "ogc", "GET", ITEMS, lambda: {"params": {"limit": "-5"}}, status=(400, 400), field="limit"),
    Case("ogc-limit-text", "ogc", "GET", ITEMS, lambda: {"params": {"limit": "ten"}}, status=(400, 400), field="limit"),
    Case("ogc-offset-negative", "ogc", "GET", ITEMS, lambda: {"params": {"offset": "-1"}}, status=(400, 400), field="offset"),
    Case("ogc-datetime-text", "ogc", "GET", ITEMS, lambda: {"params": {"datetime": "yesterday"}}, status=(400, 400), field="datetime"),
    Case("ogc-datetime-reversed", "ogc", "GET", ITEMS, lambda: {"params": {"datetime": "2020-01-01/2010-01-01"}}, status=(400, 400), field="datetime"),
    Case("ogc-unknown-collection", "ogc", "GET", "/ogc/collections/nope/items", dict, status=(404, 404)),
    Case("ogc-collection-traversal", "ogc", "GET", "/ogc/collections/..%2F..%2Fcatalog/items", dict, status=(404, 404)),
    Case("ogc-unknown-feature", "ogc", "GET", ITEMS + "/NOPE", dict, status=(404, 404)),
    Case("ogc-unknown-param", "ogc", "GET", ITEMS, lambda: {"params": {"frobnicate": "1"}}, status=(400, 400)),
]

HTTP_CASES = SCREEN + SITES + BATCH + OGC


@pytest.fixture(scope="module")
def before(sandbox: Sandbox) -> set[str]:
    return sandbox.tree()


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda c: c.id)
def test_bad_input(case: Case, http: httpx.Client, before: set[str]) -> None:
    response = http.request(case.method, case.path, **case.request())
    low, high = case.status
    assert low <= response.status_code <= high, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        payload = response.json()
        assert set(payload) == ERROR_KEYS, payload
        assert payload["detail"] and payload["code"], payload
        if case.field is not None:
            assert (payload["field"] or "").startswith(case.field), payload
    if case.warns:
        assert response.json()["site"]["warnings"], response.json()["site"]
    if case.row_errors:
        job = wait_job(http, response.json()["job_id"])
        assert job["status"] == "completed", job
        assert job["error_rows"] >= 1, job


def test_catalog_is_large_enough() -> None:
    assert len(HTTP_CASES) + len(CLI_CASES) >= 40
    assert len({c.id for c in HTTP_CASES}) == len(HTTP_CASES)


def test_server_survived_and_wrote_nothing_outside_state(
    http: httpx.Client, sandbox: Sandbox, before: set[str]
) -> None:
    """Runs after the catalog (file order): still up, temp empty, no new files, no ``x``."""
    assert http.get("/healthz").status_code == 200
    assert http.post("/v1/screen", json={"lonlat": [101.71, 36.61]}).status_code == 200
    after = sandbox.tree()
    assert after - before == set(), sorted(after - before)[:20]
    assert list(sandbox.tmp.iterdir()) == []
    for root in (sandbox.root, sandbox.root.parent, sandbox.state, sandbox.cwd, REPO):
        assert not (root / "x").exists()
    assert not any(p.name == "x" for p in sandbox.state.rglob("*"))


# --- CLI: exit code 2, one line on stderr, no traceback --------------------------------------

CLI_CASES: list[tuple[str, list[str], str | None]] = [
    ("cli-screen-unclosed-wkt", ["screen", "--wkt", "POLYGON ((101.7 36.6, 101.72 36.6, 101.72 36.62))"], None),
    ("cli-screen-nan-wkt", ["screen", "--wkt", "POINT (nan 36.6)"], None),
    ("cli-screen-lonlat-text", ["screen", "--lonlat", "abc,def"], None),
    ("cli-screen-unknown-crs", ["screen", "--lonlat", "101.7,36.6", "--crs", "EPSG:999999"], None),
    ("cli-screen-broken-geojson", ["screen", "--geojson", "-"], '{"type": "Point", "coordinates": ['),
    ("cli-batch-missing-file", ["batch", "does-not-exist.csv", "-o", "out.csv", "--no-progress"], None),
    ("cli-batch-merged-xlsx", ["batch", "merged.xlsx", "-o", "out.csv", "--no-progress"], None),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c[0])
def test_cli_bad_input(case: tuple[str, list[str], str | None], sandbox: Sandbox, tmp_path: Path) -> None:
    _, args, stdin = case
    (tmp_path / "merged.xlsx").write_bytes(I.xlsx_merged_header())
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin, capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "ZONING_DATA_DIR": str(sandbox.data),
             "ZONING_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert not (tmp_path / "out.csv").exists()
