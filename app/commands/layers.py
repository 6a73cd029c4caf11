"""`zoning layers`: list the processed catalog (a table, or the catalog JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from app.settings import ZoningSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="list the processed layers (the catalog)")
    p.add_argument("--data", type=Path, metavar="DIR", help="processed-data folder (default: $ZONING_DATA_DIR or data/processed)")
    p.add_argument("--json", action="store_true", help="print the catalog entries as JSON (same as GET /v1/layers)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from layers.catalog import read_catalog
    from layers.report import make_console

    catalog = read_catalog(args.data or ZoningSettings().data_dir)
    if args.json:
        print(json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    table = Table(title=f"{len(catalog.layers)} layers")
    for col in ("id", "kind", "region", "features", "area km²", "accuracy", "as_of", "version"):
        table.add_column(col, justify="right" if col in {"features", "area km²"} else "left", no_wrap=True)
    for e in catalog.layers:
        area = f"{e.total_area_km2:,.0f}" if e.total_area_km2 is not None else ""
        table.add_row(
            e.id, e.kind, e.region, str(e.feature_count), area, e.accuracy,
            str(e.as_of or ""), e.version.removeprefix("sha256:")[:12],
        )
    make_console().print(table)
    return 0
