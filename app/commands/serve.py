"""``zoning serve [--host H] [--port P] [--data DIR] [--workers N] [--allow-degraded]``: run the service.

The options are passed to the app through ``ZONING_*`` environment variables, so that every
uvicorn worker process (which imports ``app.main:create_app`` itself) builds the same settings.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (API, OGC API – Features, web map)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument(
        "--data", type=Path, default=None, help="processed data folder (ZONING_DATA_DIR)"
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    p.add_argument(
        "--allow-degraded",
        action="store_true",
        help="start even if the data fail their checksums or the rulebook does not load "
        "(default: refuse; same as ZONING_STRICT_STARTUP=false)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from app.deps import StartupRefused
    from app.observability import configure_logging

    if args.workers < 1:
        raise SystemExit("zoning serve: --workers must be at least 1")
    if not 0 < args.port < 65536:
        raise SystemExit("zoning serve: --port must be between 1 and 65535")
    if args.data is not None:
        data = args.data.resolve()
        if not (data / "catalog.json").exists():
            raise SystemExit(f"zoning serve: no catalog.json in {data}: run `zoning build` first")
        os.environ["ZONING_DATA_DIR"] = str(data)
    if args.allow_degraded:
        os.environ["ZONING_STRICT_STARTUP"] = "false"
    else:  # a server must not answer filings from corrupt data: refuse unless told otherwise
        os.environ.setdefault("ZONING_STRICT_STARTUP", "true")
    configure_logging(args.log_level.upper())
    if args.workers > 1:  # load once, then fork: the workers share the loaded layers
        from app.prefork import serve

        try:
            serve(args.host, args.port, args.workers, args.log_level)
        except StartupRefused as exc:
            raise SystemExit(f"zoning serve: {exc}") from exc
        return 0
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_config=None,
    )
    return 0
