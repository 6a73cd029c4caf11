"""Our engine: ``zoning.index.LayerIndex`` + ``zoning.screen.screen`` / ``screen_many``.

Start-up is ``LayerIndex.load`` exactly as the service does it (catalog, checksum verification,
GeoParquet, STRtrees). The batch path is the engine's bulk API; single sites go through
``Site.from_geometry`` + ``screen`` (what one HTTP request costs in-process, minus JSON). Only
intersecting hits of the screened layers are compared: buffers are turned off (``()``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from bench.engines.base import SiteKind, concat, result_frame

NO_BUFFERS: tuple[float, ...] = ()


def find_screen_many() -> Callable[..., pd.DataFrame] | None:
    """The engine's bulk API, wherever the engine module put it (contract: ``zoning.screen``)."""
    for module in ("zoning.screen", "zoning.bulk"):
        try:
            fn = getattr(importlib.import_module(module), "screen_many", None)
        except ImportError:
            continue
        if fn is not None:
            return fn  # type: ignore[no-any-return]
    return None


class OursEngine:
    name = "ours"

    def __init__(self) -> None:
        self.index: Any = None
        self.layers: list[str] = []
        self._many = find_screen_many()

    def version(self) -> str:
        import subprocess

        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        return f"zoning (git {rev or '?'}), screen_many {'yes' if self._many else 'not yet'}"

    def load(self, data_dir: Path, layers: list[str]) -> None:
        from zoning.index import LayerIndex

        self.index = LayerIndex.load(data_dir)
        self.layers = list(layers)

    def screen_batch(self, sites: gpd.GeoDataFrame, kind: SiteKind) -> pd.DataFrame:
        if self._many is None:
            raise NotImplementedError("zoning.screen.screen_many has not landed yet")
        kwargs: dict[str, Any] = {}
        params = inspect.signature(self._many).parameters
        if "layers" in params:
            kwargs["layers"] = self.layers
        # ``site_index`` in the answer is the label of each site in the frame's index.
        hits = self._many(sites.set_index("site")[["geometry"]], self.index, NO_BUFFERS, **kwargs)
        return self._from_hits(hits)

    def _from_hits(self, hits: pd.DataFrame) -> pd.DataFrame:
        if len(hits) == 0:
            return concat([])
        keep = hits["layer"].isin(self.layers)
        if "relation" in hits.columns:
            keep &= hits["relation"] == "intersects"
        hits = hits[keep]
        return result_frame(
            hits["site_index"].to_numpy(dtype=np.int64),
            hits["layer"].to_numpy(dtype=object),
            hits["feature_id"].to_numpy(dtype=object),
            area_m2=hits["overlap_area_m2"].to_numpy(dtype=float),
            length_m=hits["length_inside_m"].to_numpy(dtype=float),
        )

    def screen_one(self, geom: BaseGeometry, kind: SiteKind) -> pd.DataFrame:
        from zoning.screen import screen
        from zoning.site import Site

        site = Site.from_geometry(geom, "EPSG:4490")
        result = screen(site, self.index, buffers_m=NO_BUFFERS, layers=self.layers)
        rows = [h for h in result.hits if h.relation == "intersects"]
        return result_frame(
            np.zeros(len(rows), dtype=np.int64),
            np.array([h.layer for h in rows], dtype=object),
            np.array([h.feature_id for h in rows], dtype=object),
            area_m2=np.array(
                [np.nan if h.overlap_area_m2 is None else h.overlap_area_m2 for h in rows]
            ),
            length_m=np.array(
                [np.nan if h.length_inside_m is None else h.length_inside_m for h in rows]
            ),
        )

    def close(self) -> None:
        self.index = None
