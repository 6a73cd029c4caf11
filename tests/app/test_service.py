"""Catalog, health, rules, project types, /docs and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from layers.catalog import CatalogEntry


def test_layers_are_catalog_entries(client: TestClient) -> None:
    r = client.get("/v1/layers")
    assert r.status_code == 200
    entries = [CatalogEntry.model_validate(e) for e in r.json()]
    assert {e.id for e in entries} == {"dem", "eco_redline", "national_park", "rivers"}
    park = client.get("/v1/layers/national_park").json()
    assert park["access"] == "restricted"  # listed, only not downloadable
    assert park["version"].startswith("sha256:")


def test_healthz_reports_versions(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] in ("ok", "degraded")
    assert set(body["layers"]) == {"dem", "eco_redline", "national_park", "rivers"}
    assert body["data_version"].startswith("sha256:")
    assert body["rulebook"]  # the shipped rulebook loads


def test_rules_and_filters(client: TestClient) -> None:
    body = client.get("/v1/rules").json()
    assert body["rule_count"] == len(body["rules"]) > 0
    first = body["rules"][0]
    assert {"id", "effect", "family"} <= set(first)
    family = first["family"]
    only = client.get("/v1/rules", params={"family": family}).json()["rules"]
    assert only and {r["family"] for r in only} == {family}
    r = client.get("/v1/rules", params={"type": "no_such_type"})
    assert r.status_code == 422
    assert r.json()["field"] == "type"
    assert client.get("/v1/rules", params={"effect": "maybe"}).status_code == 422


def test_project_types(client: TestClient) -> None:
    body = client.get("/v1/project-types").json()
    ids = {t["id"] for t in body["types"]}
    assert "chemical" in ids
    assert body["groups"]
    r = client.get("/v1/project-types", params={"code": "2614"}).json()
    assert [t["id"] for t in r["types"]] == ["chemical"]
    r = client.get("/v1/project-types", params={"group": "zzz"})
    assert r.status_code == 422
    assert r.json()["field"] == "group"


def test_docs_are_served_offline(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html.replace("https://fastapi.tiangolo.com", "")
    js = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200, "run `make web` (npm ci) to vendor swagger-ui-dist"
    assert len(js.content) > 100_000


def test_openapi_documents_request_and_result_fields(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    screen = schemas["ScreenRequest"]["properties"]
    assert {"geometry", "crs", "project", "buffers_m", "as_of"} <= set(screen)
    assert all("description" in v for v in screen.values())
    assert {"verdict", "site", "hits", "findings", "versions"} <= set(
        schemas["ScreeningResult"]["properties"]
    )
    paths = spec["paths"]
    for path in (
        "/v1/screen",
        "/v1/layers",
        "/v1/layers/{layer_id}/download",
        "/v1/rules",
        "/v1/project-types",
        "/healthz",
        "/ogc/collections/{collectionId}/items",
    ):
        assert path in paths, path
    limit = next(
        p
        for p in paths["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"]["default"] == 10
