"""`zoning build`: turn the layer manifests into ``data/processed`` and print the build report."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.settings import ZoningSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build processed layers from data/raw/*/manifest.yaml",
        description="Read every layer manifest, repair and standardise the layers, write GeoParquet/COG "
        "files, catalog.json and build_report.json. Unchanged layers are kept as they are.",
    )
    p.add_argument(
        "--manifest", action="append", type=Path, metavar="PATH",
        help="manifest to build (repeatable; default: every data/raw/*/manifest.yaml)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: $ZONING_DATA_DIR or data/processed)")
    p.add_argument("--force", action="store_true", help="rebuild every layer, even unchanged ones")
    p.add_argument("--quiet", action="store_true", help="print only the summary table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from layers.build import build, default_manifests
    from layers.report import make_console, print_report

    settings = ZoningSettings()
    manifests = args.manifest or default_manifests(settings.raw_dir)
    out = args.out or settings.data_dir  # ZoningSettings reads $ZONING_DATA_DIR
    console = make_console()
    progress = None if args.quiet else (lambda msg: console.print(f"[dim]{msg}[/dim]", highlight=False))
    result = build(list(manifests), out, progress=progress, force=args.force)
    print_report(result.report, console)
    console.print(f"wrote {len(result.catalog.layers)} layers to {result.out_dir}", highlight=False)
    return 0
