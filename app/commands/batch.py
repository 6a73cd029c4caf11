"""`zoning batch INPUT -o OUTPUT`: screen every row/feature of a table or GIS file.

The engine lives in ``zoning.batch``; this module only maps flags to ``BatchOptions``, picks the
runner (in-process, ``--workers N`` LocalCluster or ``--scheduler ADDRESS``) and shows progress.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

SCREENER_ENV = "ZONING_BATCH_SCREENER"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="screen every row of a CSV/XLSX or feature of a GIS file",
        description="Screen every row/feature of INPUT (CSV, XLSX, GeoJSON, GeoPackage, zipped "
        "Shapefile, KML, FlatGeobuf); OUTPUT format by extension (.csv .xlsx .geojson .gpkg). "
        "One output row per input row; bad rows get status=error and a message.",
    )
    p.add_argument("input", type=Path, help="input file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (.csv/.xlsx/.geojson/.gpkg)")
    p.add_argument("--project-type", help="project type for rows without a 项目类型/project_type cell")
    p.add_argument("--crs", help="CRS of the coordinates when rows have no 坐标系/crs cell (default EPSG:4326)")
    p.add_argument("--data", type=Path, help="processed data folder (default $ZONING_DATA_DIR or data/processed)")
    p.add_argument("--buffers", default="1000,5000,10000", help="buffer distances in metres (comma-separated)")
    p.add_argument("--as-of", help="date the rules are evaluated at (YYYY-MM-DD, default: the day the run "
                   "started, kept by --resume)")
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of N worker processes")
    p.add_argument("--scheduler", help="run on an existing Dask scheduler (tcp://host:8786)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run, skipping finished chunks")
    p.add_argument("--hits", metavar="all|nearest",
                   help="hit rows per site: every zone in reach (all; default for .xlsx/.gpkg) or the "
                        "zones met plus the nearest per kind (nearest; default for .csv/.geojson, "
                        "same result rows, much faster)")
    p.add_argument("--chunk-rows", type=int, default=50_000, help="rows per chunk (memory vs. overhead)")
    p.add_argument("--layer", help="layer to read from a multi-layer GIS input")
    p.add_argument("--keep-parts", action="store_true", help="keep the per-chunk parts folder after success (for "
                        ".csv and .geojson output the parts hold the result rows, not the hit rows)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--screener", default=os.environ.get(SCREENER_ENV), help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _spec(args: argparse.Namespace):
    from zoning.batch.screener import DEFAULT_FACTORY, ScreenerSpec
    from zoning.errors import ZoningError

    if args.screener:  # another factory (tests, spatial-only runs); gets --data when given
        return ScreenerSpec(args.screener, {"data_dir": str(args.data.resolve())} if args.data else {})
    try:
        buffers = [float(b) for b in args.buffers.split(",") if b.strip()]
    except ValueError as exc:
        raise ZoningError(f"--buffers {args.buffers!r} is not a list of numbers", field="buffers",
                          hint="e.g. --buffers 1000,5000,10000") from exc
    from zoning.api import check_hit_rows
    from zoning.batch.write import check_output_format, default_hits

    hits = check_hit_rows(args.hits) if args.hits else default_hits(check_output_format(args.output))
    options = {"data_dir": str(args.data.resolve()) if args.data else None, "buffers_m": buffers,
               "as_of": args.as_of, "hits": hits}
    return ScreenerSpec(DEFAULT_FACTORY, options)


def run(args: argparse.Namespace) -> int:
    from zoning.batch.dask_runner import DaskRunner, dask_client
    from zoning.batch.engine import BatchOptions, default_workdir, run_batch
    from zoning.batch.progress import rich_progress

    options = BatchOptions(crs=args.crs, project_type=args.project_type, chunk_rows=args.chunk_rows,
                           layer=args.layer, spec=_spec(args))
    with ExitStack() as stack:
        runner = None
        if args.workers or args.scheduler:
            client = stack.enter_context(dask_client(args.workers, args.scheduler))
            runner = DaskRunner(client)
        progress = None
        if not args.no_progress:
            progress = stack.enter_context(rich_progress(f"screening {args.input.name}"))
        try:
            summary = run_batch(args.input, args.output, options, resume=args.resume, runner=runner,
                                progress=progress, keep_parts=args.keep_parts)
        except KeyboardInterrupt:
            print(f"zoning batch: interrupted; finished chunks are kept in {default_workdir(args.output)}; "
                  "run the same command with --resume to continue", file=sys.stderr)
            return 130  # the message above says it all (main would add a bare "interrupted")
    print(f"{summary['rows']} rows screened ({summary['errors']} with errors, {summary['hits']} hits) "
          f"→ {summary['output']}")
    return 0
