"""``zoning screen``: screen one site from the command line (same engine and result as HTTP)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.settings import ZoningSettings
from zoning.errors import InvalidGeometryError, ZoningError
from zoning.result import ScreeningResult

VERDICT_STYLE = {
    "prohibited": "bold white on red",
    "restricted": "bold black on dark_orange",
    "caution": "bold black on yellow",
    "clear": "bold white on green",
    "insufficient_data": "bold white on grey50",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screen", help="screen one site and print the result")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--geojson", metavar="FILE|-", help="GeoJSON geometry or Feature file, '-' for stdin"
    )
    where.add_argument("--wkt", metavar="TEXT", help="WKT geometry")
    where.add_argument(
        "--lonlat", metavar="LON,LAT", help="a point (x,y in --crs for projected CRSs)"
    )
    p.add_argument(
        "--crs",
        default="EPSG:4326",
        help="EPSG:4326 (default), EPSG:4490, EPSG:45xx GK, GCJ02, BD09",
    )
    p.add_argument(
        "--radius", type=float, metavar="M", help="turn a point into a circle of this radius"
    )
    p.add_argument(
        "--project-type", metavar="ID", help="project type id (see GET /v1/project-types)"
    )
    p.add_argument("--industry-code", metavar="CODE", help="GB/T 4754-2017 industry code")
    p.add_argument("--phase", choices=("new", "expansion", "reconstruction"), default="new")
    p.add_argument(
        "--buffers", default="1000,5000,10000", metavar="M,M,…", help="buffer bands in metres"
    )
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="evaluate the rules in force on this date")
    p.add_argument(
        "--data",
        type=Path,
        help="processed data folder (default $ZONING_DATA_DIR or data/processed)",
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=run)


def _request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {"crs": args.crs}
    if args.geojson:
        text = (
            sys.stdin.read()
            if args.geojson == "-"
            else Path(args.geojson).read_text(encoding="utf-8")
        )
        try:
            request["geometry"] = json.loads(text)
        except ValueError as exc:
            raise InvalidGeometryError(
                f"{args.geojson} is not JSON: {exc}", field="--geojson"
            ) from exc
    elif args.wkt:
        request["wkt"] = args.wkt
    else:
        try:
            lon, lat = (float(v) for v in args.lonlat.replace("，", ",").split(","))
        except ValueError as exc:
            raise InvalidGeometryError(
                f"--lonlat {args.lonlat!r} is not two numbers",
                field="--lonlat",
                hint="e.g. --lonlat 101.78,36.62",
            ) from exc
        request["lonlat"] = (lon, lat)
    if args.radius:
        request["radius_m"] = args.radius
    if args.project_type or args.industry_code:
        request["project"] = {
            k: v
            for k, v in (
                ("type", args.project_type),
                ("industry_code", args.industry_code),
                ("phase", args.phase),
            )
            if v
        }
    try:
        request["buffers_m"] = [float(v) for v in args.buffers.split(",") if v.strip()]
    except ValueError as exc:
        raise ZoningError(
            f"--buffers {args.buffers!r} is not a list of metres", field="--buffers"
        ) from exc
    if args.as_of:
        request["as_of"] = args.as_of
    return request


def run(args: argparse.Namespace) -> int:
    from zoning.api import screen_site
    from zoning.index import LayerIndex
    from zoning.rules import load_rulebook

    settings = ZoningSettings()
    data_dir = args.data or settings.data_dir
    request = _request(args)
    index = LayerIndex.load(data_dir)
    rulebook = load_rulebook(settings.rules_dir)
    result = screen_site(request, index, rulebook, settings)
    if args.json:
        print(result.model_dump_json(indent=2, exclude={"site": {"geometry"}}))
    else:
        print_result(result)
    return 0


def print_result(result: ScreeningResult) -> None:
    """A readable summary: verdict, governing rule, findings with basis, hits table."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    site = result.site
    console.print(
        f"[{VERDICT_STYLE[result.verdict]}] {result.verdict.upper()} [/]  result {result.result_id}"
    )
    if result.governing:
        console.print(
            f"governing: [bold]{result.governing.rule_id or '—'}[/] — {result.governing.why}"
        )
    size = (
        f"{site.area_m2:,.0f} m² = {site.area_ha:,.2f} ha = {site.area_mu:,.1f} 亩"
        if site.area_m2
        else (f"{site.length_m:,.0f} m" if site.length_m else "point")
    )
    console.print(
        f"site: {site.type}, {size}, centroid {site.centroid[0]:.5f},{site.centroid[1]:.5f} ({site.input_crs})"
    )
    for warning in site.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for finding in result.findings:
        basis = "; ".join(
            " ".join(p for p in (b.document, b.article, b.seed_ref) if p) for b in finding.basis
        )
        console.print(
            f"- [bold]{finding.effect}[/] {finding.rule_id} {finding.title_zh} / {finding.title}"
        )
        console.print(f"    basis: {basis}", style="dim")
    table = Table(
        "layer",
        "name",
        "class",
        "relation",
        "overlap m²",
        "ratio",
        "inside m",
        "distance m",
        "accuracy",
    )
    for hit in result.hits:
        table.add_row(
            hit.layer,
            hit.name or hit.feature_id,
            hit.zone_class or "",
            hit.relation,
            f"{hit.overlap_area_m2:,.0f}" if hit.overlap_area_m2 else "",
            f"{hit.overlap_ratio:.1%}"
            if hit.overlap_ratio is not None
            else (f"{hit.share:.1%}" if hit.share else ""),
            f"{hit.length_inside_m:,.0f}" if hit.length_inside_m else "",
            f"{hit.distance_m:,.0f}",
            hit.accuracy,
        )
    console.print(table)
    missing = [c.layer for c in result.coverage if c.status == "no_data"]
    if missing:
        console.print(f"[dim]no data at the site: {', '.join(missing)}[/]")
