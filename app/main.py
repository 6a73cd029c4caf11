"""The FastAPI application: ``create_app(settings)`` wires settings, state, routers and errors.

Why only wiring here: each resource has its own router module, errors have one mapping
(``app.errors``) and the data lives in one swappable state (``app.deps``). The lifespan loads the
data once; ``POST /v1/admin/reload`` and SIGHUP rebuild it off the event loop and swap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.deps import StateHolder
from app.errors import BodySizeLimitMiddleware, add_exception_handlers, document_error_body
from app.observability import RequestContextMiddleware, metrics_response
from app.settings import ZoningSettings

log = logging.getLogger("zoning.app")

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: swagger-ui-dist from npm (app/web/package.json), copied here by `make web` at setup.
SWAGGER_URL = "/static/vendor/swagger-ui"

#: Router modules under ``app.routers``, mounted in this order. Modules that are not present
#: (e.g. results, before their issue lands) are skipped, so partial checkouts still serve.
#: Other engineers' routers (batch, results, web) join by adding their module name here.
ROUTERS = (
    "health",
    "layers",
    "downloads",
    "rules",
    "screen",
    "sites",
    "results",
    "batch",
    "ogc",
    "web",
)


def _install_sighup(holder: StateHolder) -> bool:
    """SIGHUP → reload in a worker thread. Only possible on the main thread's event loop."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[object]] = set()  # keep references until the reload finishes

    def on_hup() -> None:
        task = loop.create_task(asyncio.to_thread(holder.reload, "SIGHUP"))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        return False  # not the main thread (TestClient) or no signals on this platform
    return True


async def _poll_generation(holder: StateHolder, every_s: float) -> None:
    """Follow reloads announced by other worker processes (see ``StateHolder``)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(holder.reload_if_announced)
        except Exception:  # never let the poller die; the next round tries again
            log.exception("reload poll failed")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    holder: StateHolder = app.state.holder
    settings: ZoningSettings = app.state.settings
    if not holder.loaded:  # preloaded before the workers were forked (app.prefork)
        await asyncio.to_thread(holder.initial_load)
    hup = _install_sighup(holder)
    poller = (
        asyncio.create_task(_poll_generation(holder, settings.reload_poll_seconds))
        if settings.reload_poll_seconds > 0
        else None
    )
    try:
        yield
    finally:
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if hup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


def _include_routers(app: FastAPI) -> None:
    for name in ROUTERS:
        try:
            module = importlib.import_module(f"app.routers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.routers.{name}":
                raise
            log.info("router app.routers.%s not present; skipped", name)
            continue
        app.include_router(module.router)


def create_app(settings: ZoningSettings | None = None, *, preload: bool = False) -> FastAPI:
    """Build the service for ``settings`` (default: from ``ZONING_*`` environment variables).

    ``preload``: load the data and rules now instead of at start-up of each worker, so that
    workers forked afterwards share them (``app.prefork``); a refused start raises here.
    """
    settings = settings or ZoningSettings()
    app = FastAPI(
        title="Ecological zoning screening (China)",
        version="0.1.0",
        description="Screen a site against ecological red lines, national parks, reserves, "
        "control units and other zoning layers; browse and download the layers; OGC API – "
        "Features at /ogc. Errors are JSON `{code, detail, field, hint}`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.holder = StateHolder(settings)
    if preload:
        app.state.holder.initial_load()

    add_exception_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_paths=("/v1/batch", "/v1/sites/parse"),
        max_upload_bytes=settings.max_upload_bytes,
    )
    # Added last = outermost: every response, 413s included, gets a request id and a log line.
    app.add_middleware(RequestContextMiddleware)
    app.add_route("/metrics", metrics_response, include_in_schema=False)

    @app.get("/docs", include_in_schema=False, name="swagger_ui")
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – API",
            swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
        )

    _include_routers(app)
    document_error_body(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
