"""One adapter per competitor, all answering the same questions on the same processed data.

The question, for every site and every screened polygon layer (red lines, park zones, control
units): which features does the site intersect; for polygon sites also the overlap area (m², on
the ellipsoid); for line sites the length inside (m, on the ellipsoid). Each adapter returns a
frame with ``RESULT_COLUMNS`` so that the cross-check can compare them row for row.
"""

from __future__ import annotations

from bench.engines.base import RESULT_COLUMNS, Engine, SiteKind, polygon_layers

ENGINES = ("ours", "duckdb", "geopandas", "postgis")


def make_engine(name: str) -> Engine:
    """Instantiate an adapter by name (imports lazily: each worker needs only its own stack)."""
    if name == "ours":
        from bench.engines.ours import OursEngine

        return OursEngine()
    if name == "postgis":
        from bench.engines.postgis import PostgisEngine

        return PostgisEngine()
    if name == "duckdb":
        from bench.engines.duckdb_spatial import DuckdbEngine

        return DuckdbEngine()
    if name == "geopandas":
        from bench.engines.geopandas_sjoin import GeopandasEngine

        return GeopandasEngine()
    raise ValueError(f"unknown engine '{name}': choose one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "RESULT_COLUMNS", "Engine", "SiteKind", "make_engine", "polygon_layers"]
