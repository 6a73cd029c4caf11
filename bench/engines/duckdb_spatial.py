"""DuckDB spatial (``duckdb==1.5.5`` + ``duckdb-extension-spatial==1.5.5``, loaded offline).

Done as the spatial extension's documentation recommends: GeoParquet read straight into
``GEOMETRY`` columns, an R-tree index per layer (``CREATE INDEX … USING RTREE``), and plain
``JOIN … ON ST_Intersects`` which the planner turns into its ``SPATIAL_JOIN`` operator (probing
the R-tree). Ellipsoidal measures use ``ST_Area_Spheroid`` / ``ST_Length_Spheroid``, which expect
**lat/lon** axis order (data-sources.md §8.2), hence ``ST_FlipCoordinates`` around them.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from bench.engines.base import SiteKind, layer_path, result_frame

MEASURE = {
    "point": "NULL::DOUBLE AS area_m2, NULL::DOUBLE AS length_m",
    "polygon": "ST_Area_Spheroid(ST_FlipCoordinates(ST_Intersection(s.geom, l.geom))) AS area_m2, "
    "NULL::DOUBLE AS length_m",
    "line": "NULL::DOUBLE AS area_m2, "
    "ST_Length_Spheroid(ST_FlipCoordinates(ST_Intersection(s.geom, l.geom))) AS length_m",
}


def spatial_extension_path() -> str:
    """The extension file shipped in the ``duckdb-extension-spatial`` wheel (no network)."""
    import duckdb_extension_spatial

    root = os.path.dirname(duckdb_extension_spatial.__file__)
    return os.path.join(root, "extensions", f"v{duckdb.__version__}", "spatial.duckdb_extension")


class DuckdbEngine:
    name = "duckdb"

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute(f"LOAD '{spatial_extension_path()}'")
        self.layers: list[str] = []

    def version(self) -> str:
        spatial = self.con.execute(
            "SELECT extension_version FROM duckdb_extensions() WHERE extension_name = 'spatial'"
        ).fetchone()
        return f"duckdb {duckdb.__version__}, spatial {spatial[0] if spatial else '?'}"

    def load(self, data_dir: Path, layers: list[str]) -> None:
        for layer_id in layers:
            path = str(layer_path(data_dir, layer_id)).replace("'", "''")
            self.con.execute(
                f"CREATE TABLE {layer_id} AS "
                f"SELECT feature_id, geometry AS geom FROM read_parquet('{path}')"
            )
            self.con.execute(f"CREATE INDEX {layer_id}_rtree ON {layer_id} USING RTREE (geom)")
            self.layers.append(layer_id)

    def _query(self, sites_sql: str, kind: SiteKind) -> str:
        return " UNION ALL ".join(
            f"SELECT s.site, '{layer_id}' AS layer, l.feature_id, {MEASURE[kind]} "
            f"FROM {sites_sql} s JOIN {layer_id} l ON ST_Intersects(s.geom, l.geom)"
            for layer_id in self.layers
        )

    def screen_batch(self, sites: gpd.GeoDataFrame, kind: SiteKind) -> pd.DataFrame:
        raw = pd.DataFrame(
            {"site": sites["site"].to_numpy(), "wkb": shapely.to_wkb(sites.geometry.values)}
        )
        self.con.register("sites_raw", raw)
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE sites AS "
            "SELECT site, ST_GeomFromWKB(wkb) AS geom FROM sites_raw"
        )
        self.con.unregister("sites_raw")
        out = self.con.execute(self._query("sites", kind)).df()
        return self._frame(out)

    def screen_one(self, geom: BaseGeometry, kind: SiteKind) -> pd.DataFrame:
        # A constant geometry lets the planner use the R-tree index scan directly.
        literal = (
            f"(SELECT 0 AS site, ST_GeomFromHEXWKB('{shapely.to_wkb(geom, hex=True)}') AS geom)"
        )
        return self._frame(self.con.execute(self._query(literal, kind)).df())

    @staticmethod
    def _frame(out: pd.DataFrame) -> pd.DataFrame:
        return result_frame(
            out["site"].to_numpy(),
            out["layer"].to_numpy(),
            out["feature_id"].to_numpy(),
            area_m2=out["area_m2"].to_numpy(dtype=float),
            length_m=out["length_m"].to_numpy(dtype=float),
        )

    def close(self) -> None:
        self.con.close()
