"""``GET /healthz`` (liveness with data and rulebook versions) and ``POST /v1/admin/reload``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import StateHolder, get_holder, require_admin
from app.errors import ReloadFailedError
from app.schemas import HealthResponse, ReloadResponse, ReloadStatusModel

router = APIRouter(tags=["service"])

HolderDep = Annotated[StateHolder, Depends(get_holder)]


@router.get("/healthz", response_model=HealthResponse, summary="Liveness and data versions")
def healthz(holder: HolderDep) -> HealthResponse:
    """Always 200 while the process runs; ``status`` tells whether data is loaded."""
    reload = ReloadStatusModel(**vars(holder.last_reload))
    if not holder.loaded:
        return HealthResponse(
            status="no_data",
            data_dir=str(holder.settings.data_dir),
            data_version=None,
            rulebook=None,
            problems=[holder.load_error or "no data loaded"],
            reload=reload,
        )
    state = holder.state
    return HealthResponse(
        status="degraded" if state.problems else "ok",
        data_dir=str(state.data_dir),
        data_version=state.data_version,
        layers={e.id: e.version for e in state.catalog.layers},
        rulebook=state.rulebook_version,
        loaded_at=state.loaded_at,
        problems=list(state.problems),
        reload=reload,
    )


@router.post(
    "/v1/admin/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin)],
    summary="Reload data and rules (atomic swap; on failure the old data stays)",
    responses={401: {"description": "no or wrong admin token"}, 409: {"description": "failed"}},
)
async def reload(holder: HolderDep) -> ReloadResponse:
    """Build the new state in a worker thread, verify checksums, then swap."""
    status = await asyncio.to_thread(holder.reload, "admin endpoint")
    if not status.ok:
        raise ReloadFailedError(
            f"reload failed, still serving the previous data: {status.error}",
            hint="fix the data (see the message), rebuild with `zoning build`, and reload again",
        )
    return ReloadResponse(**vars(status), data_version=holder.state.data_version)
