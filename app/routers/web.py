"""The web map and the batch upload page (static files built from npm packages at setup)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The map page (Chinese by default, English switch)."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/batch", include_in_schema=False)
def batch_page() -> FileResponse:
    """Upload page for batch jobs with a progress bar."""
    return FileResponse(STATIC_DIR / "batch.html", media_type="text/html")


@router.get("/web-config.json", include_in_schema=False)
def web_config(request: Request) -> JSONResponse:
    """Front-end settings: an optional basemap tile URL (none by default: the layers make the map)."""
    settings = request.app.state.settings
    return JSONResponse(
        {
            "tile_url": getattr(settings, "tile_url", None),
            "tile_attribution": getattr(settings, "tile_attribution", None),
        }
    )
