"""Stored screening results and their reports (``/v1/results/{result_id}[/report]``).

Reports draw the zones around the site from the *currently loaded* layers; when a layer's version
differs from the one the result was computed with, the report says so rather than silently mixing
data versions. Restricted layers are never drawn: a report may say that a site overlaps such a
zone (the numbers are in the result), but never where the boundary runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import StateDep
from app.reports import ReportContext, render_html, render_pdf
from app.reports.map_image import MapLayer, render_map_png
from app.reports.render import LayerInfo
from app.results_store import ResultStore
from zoning.errors import ZoningError
from zoning.result import ScreeningResult

router = APIRouter(prefix="/v1/results", tags=["results"])

#: Layer kinds drawn on report maps (containment layers like basins add clutter, not meaning).
MAP_KINDS = frozenset(
    {
        "ecological_red_line", "national_park", "nature_reserve", "security_pattern",
        "drinking_water_source", "lake", "river", "urban_space", "industrial_park",
        "control_unit", "glacier", "sandy_land", "ecological_corridor", "mining_rectification",
    }
)
MIN_HALF_WIDTH_M = 5_000.0


class ResultNotFoundError(ZoningError):
    """No stored result with that id."""

    status_code = 404
    code = "result_not_found"


def result_store(request: Request) -> ResultStore:
    """The app's result store, opened once (SQLite under ``settings.state_dir``)."""
    store = getattr(request.app.state, "result_store", None)
    if store is None:
        settings = request.app.state.settings
        store = ResultStore(settings.state_dir / "results.sqlite")
        request.app.state.result_store = store
    return store


def _load(request: Request, result_id: str) -> tuple[ScreeningResult, str]:
    found = result_store(request).get(result_id)
    if found is None:
        raise ResultNotFoundError(
            f"no stored result {result_id!r}",
            field="result_id",
            hint="use the result_id returned by POST /v1/screen",
        )
    result, _, created = found
    return result, created


@router.get("/{result_id}", response_model=ScreeningResult, summary="A stored screening result")
def get_result(result_id: str, request: Request) -> ScreeningResult:
    return _load(request, result_id)[0]


@router.get(
    "/{result_id}/report",
    summary="Report of a stored result (HTML or PDF) with a map, hits, findings and caveats",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def get_report(
    result_id: str,
    request: Request,
    state: StateDep,
    format: Annotated[Literal["html", "pdf"], Query(description="html or pdf")] = "html",
) -> Response:
    result, created = _load(request, result_id)
    ctx = _context(result, state, created)
    if format == "pdf":
        return Response(
            render_pdf(ctx),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="zoning-report-{result_id}.pdf"'},
        )
    return HTMLResponse(render_html(ctx))


def _context(result: ScreeningResult, state, created: str) -> ReportContext:
    index = state.index
    layers: dict[str, LayerInfo] = {}
    map_layers: list[MapLayer] = []
    site = shapely.geometry.shape(result.site.geometry) if result.site.geometry else shapely.Point(
        result.site.centroid
    )
    half_width = _half_width_m(site, result)
    window = _window(site, half_width)
    hit_ids: dict[str, set[str]] = {}
    for hit in result.hits:
        if hit.relation == "intersects":
            hit_ids.setdefault(hit.layer, set()).add(hit.feature_id)
    if index is not None:
        for entry in index.catalog.layers:
            layers[entry.id] = LayerInfo(
                entry.id, entry.title, entry.accuracy, entry.source, entry.version, entry.access
            )
            layer = index.vectors.get(entry.id)
            if layer is None or entry.access == "restricted" or entry.kind not in MAP_KINDS:
                continue
            rows = layer.tree.query(window)
            if len(rows) == 0:
                continue
            rows = np.sort(rows)
            frame = gpd.GeoDataFrame(
                {"feature_id": layer.feature_id[rows].astype(str)},
                geometry=shapely.clip_by_rect(layer.geoms[rows], *window.bounds),
                crs="EPSG:4490",
            )
            frame = frame[~frame.geometry.is_empty]
            map_layers.append(
                MapLayer(entry.id, entry.title, entry.kind, entry.accuracy, frame,
                         frozenset(hit_ids.get(entry.id, set())))
            )
    map_png = render_map_png(site, map_layers, half_width)
    return ReportContext(
        result=result,
        map_png=map_png,
        layers=layers,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC") + f" (screened {created})",
    )


def _half_width_m(site: shapely.Geometry, result: ScreeningResult) -> float:
    minx, miny, maxx, maxy = site.bounds
    extent_m = max((maxx - minx) * 111_000 * np.cos(np.radians(result.site.centroid[1])), (maxy - miny) * 111_000)
    return max(MIN_HALF_WIDTH_M, extent_m * 1.5)


def _window(site: shapely.Geometry, half_width_m: float) -> shapely.Geometry:
    lon, lat = site.centroid.x, site.centroid.y
    dlat = half_width_m / 111_000 * 1.05
    dlon = dlat / max(np.cos(np.radians(lat)), 0.1)
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
