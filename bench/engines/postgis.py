"""PostGIS 3 on a throwaway PostgreSQL 15 cluster (``bench.pgcluster``), done as PostGIS experts
recommend for point-in-polygon and overlay at scale:

- bulk load with binary ``COPY`` (WKB), then ``ST_Subdivide(geom, 256)`` so that no indexed row
  has more than 256 vertices (big jagged polygons make GiST boxes useless and every
  ``ST_Intersects`` slow otherwise), a GiST index on the pieces, ``ANALYZE``;
- sites are ``COPY``-ed into an unlogged table (not a temp table: parallel workers cannot read
  temp tables) and joined in one set-based query per batch;
- overlap area = Σ over pieces of ``ST_Area(ST_Intersection(…)::geography)`` (the pieces partition
  the feature; geography → spheroidal area), with the usual ``ST_CoveredBy`` short-cut that
  skips the intersection when the site lies inside one piece; line length likewise with
  ``ST_Length(…::geography)``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import shapely
from shapely.geometry.base import BaseGeometry

from bench.engines.base import SiteKind, layer_path, result_frame
from bench.pgcluster import Cluster, cpu_seconds, rss_high_water_kb

MAX_VERTICES = 256

CLIP = "CASE WHEN ST_CoveredBy(s.geom, p.geom) THEN s.geom ELSE ST_Intersection(s.geom, p.geom) END"
SELECT = {
    "point": "SELECT DISTINCT s.site, '{layer}' AS layer, p.feature_id, NULL::float8, NULL::float8",
    "polygon": "SELECT s.site, '{layer}' AS layer, p.feature_id, "
    f"SUM(ST_Area(({CLIP})::geography)), NULL::float8",
    "line": "SELECT s.site, '{layer}' AS layer, p.feature_id, NULL::float8, "
    f"SUM(ST_Length(({CLIP})::geography))",
}
GROUP = {
    "point": "",
    "polygon": " GROUP BY s.site, p.feature_id",
    "line": " GROUP BY s.site, p.feature_id",
}


class PostgisEngine:
    name = "postgis"

    def __init__(self, cluster: Cluster | None = None) -> None:
        self._own = cluster is None
        self.cluster = cluster if cluster is not None else Cluster().__enter__()
        self.conn = psycopg.connect(self.cluster.dsn, autocommit=True)
        self.layers: list[str] = []

    def version(self) -> str:
        row = self.conn.execute("SELECT version(), postgis_full_version()").fetchone()
        assert row is not None
        pg = row[0].split(" on ")[0]
        postgis = " ".join(row[1].split()[:3]).replace('"', "")
        return f"{pg}, {postgis}"

    def _copy_wkb(
        self, table: str, key: str, keys: np.ndarray, wkbs: list[bytes], key_type: str
    ) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.execute(f"CREATE UNLOGGED TABLE {table} ({key} {key_type}, wkb bytea)")
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types([key_type, "bytea"])
            for row in zip(keys.tolist(), wkbs, strict=True):  # rows, not vertices
                copy.write_row(row)

    def load(self, data_dir: Path, layers: list[str]) -> None:
        for layer_id in layers:
            table = pq.read_table(
                layer_path(data_dir, layer_id), columns=["feature_id", "geometry"]
            )
            fids = np.asarray(table.column("feature_id").to_pylist(), dtype=object)
            self._copy_wkb(
                f"{layer_id}_raw", "feature_id", fids, table.column("geometry").to_pylist(), "text"
            )
            self.conn.execute(
                f"CREATE TABLE {layer_id} AS SELECT feature_id, "
                f"ST_Subdivide(ST_SetSRID(ST_GeomFromWKB(wkb), 4490), {MAX_VERTICES}) AS geom "
                f"FROM {layer_id}_raw"
            )
            self.conn.execute(f"DROP TABLE {layer_id}_raw")
            self.conn.execute(f"CREATE INDEX {layer_id}_gist ON {layer_id} USING GIST (geom)")
            self.conn.execute(f"ANALYZE {layer_id}")
            self.layers.append(layer_id)

    def _query(self, sites_sql: str, kind: SiteKind) -> str:
        return " UNION ALL ".join(
            SELECT[kind].format(layer=layer_id)
            + f" FROM {sites_sql} s JOIN {layer_id} p ON ST_Intersects(s.geom, p.geom)"
            + GROUP[kind]
            for layer_id in self.layers
        )

    def screen_batch(self, sites: gpd.GeoDataFrame, kind: SiteKind) -> pd.DataFrame:
        wkbs = shapely.to_wkb(sites.geometry.values).tolist()
        self._copy_wkb("sites_raw", "site", sites["site"].to_numpy(), wkbs, "int8")
        self.conn.execute("DROP TABLE IF EXISTS sites")
        self.conn.execute(
            "CREATE UNLOGGED TABLE sites AS "
            "SELECT site, ST_SetSRID(ST_GeomFromWKB(wkb), 4490) AS geom FROM sites_raw"
        )
        self.conn.execute("ANALYZE sites")
        rows = self.conn.execute(self._query("sites", kind)).fetchall()
        return self._frame(rows)

    def screen_one(self, geom: BaseGeometry, kind: SiteKind) -> pd.DataFrame:
        one = "(SELECT 0::int8 AS site, ST_SetSRID(ST_GeomFromWKB(%(g)s), 4490) AS geom)"
        rows = self.conn.execute(self._query(one, kind), {"g": shapely.to_wkb(geom)}).fetchall()
        return self._frame(rows)

    @staticmethod
    def _frame(rows: list[tuple]) -> pd.DataFrame:
        if not rows:
            return result_frame(np.array([], np.int64), np.array([], object), np.array([]))
        site, layer, fid, area, length = zip(*rows, strict=True)
        return result_frame(
            np.asarray(site),
            np.asarray(layer, dtype=object),
            np.asarray(fid, dtype=object),
            area_m2=np.asarray(area, dtype=float),
            length_m=np.asarray(length, dtype=float),
        )

    def server_cpu_s(self) -> float:
        """CPU seconds used by the server so far (all backends and finished parallel workers)."""
        return cpu_seconds(self.cluster.server_pids(), self.cluster.postmaster_pid())

    def server_peak_rss_kb(self) -> int:
        return rss_high_water_kb(self.cluster.server_pids())

    def close(self) -> None:
        # Stop the cluster even if the connection is mid-query (interrupted by a timeout):
        # twice a SIGTERM-ed worker left its postmaster running when ``conn.close`` raised.
        try:
            self.conn.close()
        finally:
            if self._own:
                self.cluster.stop()
