"""POST /v1/screen over HTTP: the result contract, stored results and every input error."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for
from zoning.result import ScreeningResult

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [
            [101.705, 36.605],
            [101.715, 36.605],
            [101.715, 36.615],
            [101.705, 36.615],
            [101.705, 36.605],
        ]
    ],
}


def test_screen_returns_the_contract_and_stores_it(client: TestClient) -> None:
    r = client.post("/v1/screen", json={"geometry": SQUARE, "project": {"type": "chemical"}})
    assert r.status_code == 200, r.text
    result = ScreeningResult.model_validate(r.json())
    assert result.verdict in ("prohibited", "restricted", "caution", "clear", "insufficient_data")
    hit = next(h for h in result.hits if h.layer == "eco_redline")
    assert hit.feature_id == "RL001"
    assert hit.relation == "intersects"
    assert hit.overlap_area_m2 == pytest.approx(result.site.area_m2, rel=1e-3)
    assert result.site.area_ha == pytest.approx(result.site.area_m2 / 10_000)
    assert set(result.versions.layers) >= {"eco_redline", "national_park"}
    assert result.versions.rulebook == client.get("/healthz").json()["rulebook"]
    stored = client.get(f"/v1/results/{result.result_id}")
    assert stored.status_code == 200
    assert stored.json()["result_id"] == result.result_id


def test_feature_input_and_gk_crs(client: TestClient) -> None:
    feature = {"type": "Feature", "properties": {}, "geometry": SQUARE}
    a = client.post("/v1/screen", json={"geometry": feature}).json()
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4490", "EPSG:4522", always_xy=True)
    ring = [list(tr.transform(x, y)) for x, y in SQUARE["coordinates"][0]]
    b = client.post(
        "/v1/screen",
        json={"geometry": {"type": "Polygon", "coordinates": [ring]}, "crs": "EPSG:4522"},
    ).json()
    assert b["site"]["area_m2"] == pytest.approx(a["site"]["area_m2"], rel=1e-3)
    assert {h["feature_id"] for h in b["hits"]} == {h["feature_id"] for h in a["hits"]}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"geometry": {"type": "Point", "coordinates": [36.6, 101.7]}},
            422,
            "coordinate_mistake",
            "geometry.coordinates",
        ),
        (
            {"geometry": {"type": "Circle", "coordinates": [101.7, 36.6]}},
            422,
            "invalid_geometry",
            None,
        ),
        ({"geometry": SQUARE, "crs": "EPSG:99999"}, 422, "invalid_crs", "crs"),
        (
            {"geometry": SQUARE, "project": {"type": "zzz"}},
            422,
            "unknown_project_type",
            "project.type",
        ),
        (
            {"geometry": SQUARE, "project": {"industry_code": "2614"}},
            422,
            "invalid_request",
            "project.type",
        ),
        (
            {"geometry": SQUARE, "buffers_m": list(range(1, 20))},
            422,
            "invalid_request",
            "buffers_m",
        ),
        ({"lonlat": [101.7, 36.6], "radius_m": -5}, 422, "invalid_request", "radius_m"),
        ({"lonlat": [101.7, 36.6], "radius_m": 5e-324}, 422, "invalid_request", "radius_m"),
    ],
)
def test_bad_inputs_name_the_field(
    client: TestClient, body: dict, status: int, code: str, field: str | None
) -> None:
    r = client.post("/v1/screen", json=body)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["code"] == code
    if field is not None:
        assert err["field"] == field
    assert err["hint"]


def test_too_many_vertices_is_413(data_dir: Path) -> None:
    ring = [[101.7 + i * 1e-5, 36.6 + (i % 2) * 1e-5] for i in range(200)]
    ring = [[101.7, 36.5], *ring, [101.8, 36.5], [101.7, 36.5]]
    with TestClient(create_app(settings_for(data_dir, max_vertices=50))) as c:
        r = c.post("/v1/screen", json={"geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"
    assert r.json()["field"]
