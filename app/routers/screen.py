"""``POST /v1/screen``: screen one site against the loaded layers and the rulebook.

The request is validated by ``app.schemas.ScreenRequest`` (field names, types), and everything
about geometry and CRS (parsing, swapped coordinates, vertex limits, GCJ02/BD09/GK) is the
engine's job in ``zoning.api.screen_site``: its ``ZoningError`` subclasses name the field and the
fix, and ``app.errors`` turns them into 4xx JSON. The router only hands over the loaded state.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from app.deps import SettingsDep, StateDep
from app.schemas import ScreenRequest
from zoning.errors import DataUnavailableError
from zoning.result import ScreeningResult

router = APIRouter(prefix="/v1", tags=["screening"])
log = logging.getLogger("zoning.app")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid JSON"},
    413: {"description": "body or geometry too large (bytes, vertices)"},
    422: {"description": "invalid geometry, CRS, coordinates or project type; `field` says which"},
    503: {"description": "data, index or rulebook not loaded"},
}


def _screen_site() -> Any:
    try:
        return importlib.import_module("zoning.api").screen_site
    except (ImportError, AttributeError) as exc:
        raise DataUnavailableError(
            "screening is not available in this build (zoning.api.screen_site is missing)",
            hint="update the service; layers, OGC and downloads keep working",
        ) from exc


def _store(
    request: Request, result: ScreeningResult, body: dict[str, Any], result_json: str
) -> None:
    """Keep the result under its id for ``GET /v1/results/{id}`` (when that router is mounted).

    A storage failure is logged, not raised: the caller still gets the screening answer.
    """
    try:
        store_for = importlib.import_module("app.routers.results").result_store
    except (ImportError, AttributeError):
        return
    try:
        store_for(request).save(result, body, result_json)
    except Exception:
        log.exception("could not store result %s", result.result_id)


@router.post(
    "/screen",
    response_model=ScreeningResult,
    summary="Screen one site",
    responses=_ERRORS,
)
def screen(
    body: ScreenRequest, request: Request, state: StateDep, settings: SettingsDep
) -> Response:
    """Screen ``geometry`` (in ``crs``) for ``project`` on ``as_of``; see interface.md."""
    if state.index is None or state.rulebook is None:
        raise DataUnavailableError(
            "screening needs the layer index and the rulebook: " + "; ".join(state.problems),
            hint="see /healthz; fix the data or rules, then POST /v1/admin/reload",
        )
    raw = body.model_dump(exclude_none=True)
    result: ScreeningResult = _screen_site()(raw, state.index, state.rulebook, settings)
    # Serialised once, by pydantic-core: the same bytes are stored and sent (FastAPI would
    # validate and encode the model again for the response).
    payload = result.model_dump_json()
    _store(request, result, raw, payload)
    return Response(payload, media_type="application/json")
