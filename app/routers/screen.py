"""``POST /v1/screen``: screen one site against the loaded layers and the rulebook.

The request is validated by ``app.schemas.ScreenRequest`` (field names, types), and everything
about geometry and CRS (parsing, swapped coordinates, vertex limits, GCJ02/BD09/GK) is the
engine's job in ``zoning.api.screen_site``: its ``ZoningError`` subclasses name the field and the
fix, and ``app.errors`` turns them into 4xx JSON. The router only hands over the loaded state.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter

from app.deps import SettingsDep, StateDep
from app.schemas import ScreenRequest
from zoning.errors import DataUnavailableError
from zoning.result import ScreeningResult

router = APIRouter(prefix="/v1", tags=["screening"])

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


@router.post(
    "/screen",
    response_model=ScreeningResult,
    summary="Screen one site",
    responses=_ERRORS,
)
def screen(body: ScreenRequest, state: StateDep, settings: SettingsDep) -> ScreeningResult:
    """Screen ``geometry`` (in ``crs``) for ``project`` on ``as_of``; see interface.md."""
    if state.index is None or state.rulebook is None:
        raise DataUnavailableError(
            "screening needs the layer index and the rulebook: " + "; ".join(state.problems),
            hint="see /healthz; fix the data or rules, then POST /v1/admin/reload",
        )
    result: ScreeningResult = _screen_site()(
        body.model_dump(exclude_none=True), state.index, state.rulebook, settings
    )
    return result
