"""``zoning serve --workers N``: load the data once, then fork the workers (gunicorn ``--preload``).

Why: the layer index of a province-scale data pack takes seconds and gigabytes to load. uvicorn's
own ``--workers`` spawns fresh interpreters that each load everything again; gunicorn with a
preloaded app loads once in the master and forks, so the workers share the loaded geometry
(GEOS keeps coordinates in C memory that nobody writes to) copy-on-write. ``gc.freeze()``
keeps the collector from touching, and so copying, every loaded object in every worker.
Each worker still runs uvicorn's event loop (``uvicorn_worker.UvicornWorker``).
"""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication

from app.main import create_app
from app.settings import ZoningSettings


class PreforkServer(BaseApplication):  # type: ignore[misc]
    """gunicorn driven from Python with an application object built beforehand."""

    def __init__(self, application: Any, options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Load the state (refusing bad data before any worker starts), then fork ``workers``."""
    app = create_app(ZoningSettings(), preload=True)
    gc.freeze()

    def on_reload(arbiter: Any) -> None:
        # SIGHUP to the master re-forks the workers: reload the data first, so that they start
        # from the new data (a failed reload keeps the old data, as everywhere else).
        app.state.holder.reload("SIGHUP to the master")

    PreforkServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "preload_app": True,
            "loglevel": log_level,
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 5,
            "on_reload": on_reload,
        },
    ).run()
