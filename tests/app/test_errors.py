"""One error shape for every failure: {code, detail, field, hint}; never a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for

ERROR_KEYS = {"code", "detail", "field", "hint"}


def _is_error(body: dict, code: str, field: str | None = None) -> None:
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    assert body["hint"], body


def test_invalid_json_is_400_naming_the_body(client: TestClient) -> None:
    r = client.post(
        "/v1/screen",
        content=b'{"geometry": {"type": "Point",',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    _is_error(r.json(), "invalid_json", "body")
    assert "Traceback" not in r.text


def test_missing_geometry_names_the_field(client: TestClient) -> None:
    r = client.post("/v1/screen", json={"crs": "EPSG:4326"})
    assert r.status_code == 422
    _is_error(r.json(), "invalid_geometry", "geometry")


def test_unknown_body_field_is_refused(client: TestClient) -> None:
    r = client.post(
        "/v1/screen", json={"geometry": {"type": "Point", "coordinates": [1, 2]}, "geom": 1}
    )
    assert r.status_code == 422
    _is_error(r.json(), "invalid_request", "geom")


def test_wrong_type_in_nested_field(client: TestClient) -> None:
    body = {"geometry": {"type": "Point", "coordinates": [101.7, 36.6]}, "buffers_m": ["far"]}
    r = client.post("/v1/screen", json=body)
    assert r.status_code == 422
    _is_error(r.json(), "invalid_request", "buffers_m.0")


def test_body_too_large_with_content_length(client: TestClient) -> None:
    big = b'{"geometry": "' + b"x" * 300_000 + b'"}'
    r = client.post("/v1/screen", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    _is_error(r.json(), "too_large", "body")
    assert "200000" in r.json()["detail"]


def test_body_too_large_when_chunked_without_length(client: TestClient) -> None:
    def chunks():
        for _ in range(30):
            yield b"x" * 10_000

    r = client.post("/v1/screen", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413
    _is_error(r.json(), "too_large", "body")


def test_small_chunked_body_passes_the_limit(client: TestClient) -> None:
    def chunks():
        yield b'{"crs": "EPSG:4326"}'

    r = client.post("/v1/screen", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 422  # reached validation: geometry missing
    assert r.json()["field"] == "geometry"


def test_unknown_path_and_method_are_json(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    _is_error(r.json(), "not_found")
    r = client.delete("/v1/layers")
    assert r.status_code == 405
    _is_error(r.json(), "method_not_allowed")


def test_unknown_layer_names_field_and_lists_layers(client: TestClient) -> None:
    r = client.get("/v1/layers/no_such_layer")
    assert r.status_code == 404
    _is_error(r.json(), "layer_not_found", "layer_id")
    assert "eco_redline" in r.json()["hint"]


def test_unexpected_exception_gives_generic_500_without_trace(data_dir: Path) -> None:
    app = create_app(settings_for(data_dir))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    _is_error(r.json(), "internal_error")
    assert "secret internal detail" not in r.text
    assert "Traceback" not in r.text


@pytest.mark.parametrize("path", ["/v1/layers", "/ogc/collections", "/v1/rules"])
def test_missing_data_is_503_and_health_says_why(tmp_path: Path, path: str) -> None:
    with TestClient(
        create_app(settings_for(tmp_path / "empty")), raise_server_exceptions=False
    ) as c:
        r = c.get(path)
        assert r.status_code == 503
        _is_error(r.json(), "data_unavailable")
        health = c.get("/healthz").json()
    assert health["status"] == "no_data"
    assert "zoning build" in health["problems"][0]
