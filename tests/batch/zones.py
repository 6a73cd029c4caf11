"""A small real overlay screener over synthetic zones, for testing the batch plumbing.

Why not the production engine: the batch machinery (reading, validation, chunking, resume, Dask,
jobs) must be testable on its own; this screener honours the same contract as
``zoning.api.screen_sites`` (summary per site + hits with ``site_index``) with genuine geometry
work (STRtree query, equal-area overlaps, nearest distances), so a wrong join or a lost row fails.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# Albers equal-area for China: areas within a fraction of a percent of ellipsoidal at this scale.
EQUAL_AREA = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m"
EFFECT = {"ecological_red_line": "prohibited", "nature_reserve": "restricted"}
ORDER = ["prohibited", "restricted", "caution", "clear"]


def zones() -> gpd.GeoDataFrame:
    """Two red-line squares and a reserve strip near Xining (lon 101–102, lat 36–37)."""
    return gpd.GeoDataFrame(
        {
            "layer": ["eco_redline", "eco_redline", "reserves"],
            "layer_kind": ["ecological_red_line", "ecological_red_line", "nature_reserve"],
            "feature_id": ["1", "2", "r1"],
            "name": ["红线一", "红线二", "保护区"],
        },
        geometry=[shapely.box(101.0, 36.0, 101.2, 36.2), shapely.box(101.5, 36.5, 101.6, 36.6),
                  shapely.box(101.0, 36.8, 102.0, 36.9)],
        crs="EPSG:4490",
    )


class OverlayScreener:
    version = "overlay-test-1"
    known_project_types = frozenset({"solar", "wind", "road"})

    def __init__(self) -> None:
        self.zones = zones()
        self.zones_ea = self.zones.to_crs(EQUAL_AREA)
        self.tree = shapely.STRtree(self.zones_ea.geometry.to_numpy())

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        site_ea = sites.to_crs(EQUAL_AREA).geometry.to_numpy()
        s_idx, z_idx = self.tree.query(site_ea, predicate="intersects")
        inter = shapely.intersection(site_ea[s_idx], self.zones_ea.geometry.to_numpy()[z_idx])
        kinds = self.zones["layer_kind"].to_numpy()[z_idx]
        hits = pd.DataFrame({
            "site_index": sites.index.to_numpy()[s_idx],
            "layer": self.zones["layer"].to_numpy()[z_idx],
            "layer_kind": kinds,
            "feature_id": self.zones["feature_id"].to_numpy()[z_idx],
            "name": self.zones["name"].to_numpy()[z_idx],
            "relation": "intersects",
            "overlap_area_m2": shapely.area(inter),
            "geometry": gpd.GeoSeries(inter, crs=EQUAL_AREA).to_crs("EPSG:4490").to_numpy(),
        })
        summary = pd.DataFrame(index=sites.index)
        effects = pd.Series([EFFECT[k] for k in kinds], index=s_idx, dtype=object)
        rank = effects.map(ORDER.index).groupby(level=0).min() if len(effects) else pd.Series(dtype=int)
        verdict = np.full(len(sites), "clear", dtype=object)
        verdict[rank.index.to_numpy()] = [ORDER[r] for r in rank.to_numpy()]
        summary["verdict"] = verdict
        for kind in EFFECT:
            pos = pd.Series(s_idx[kinds == kind])
            summary[f"{kind}_count"] = np.bincount(pos, minlength=len(sites)) if len(pos) else 0
            summary[f"{kind}_area_m2"] = np.bincount(s_idx[kinds == kind], weights=shapely.area(inter)[kinds == kind],
                                                     minlength=len(sites))
            zone_geoms = self.zones_ea.geometry.to_numpy()[self.zones["layer_kind"].to_numpy() == kind]
            summary[f"{kind}_nearest_m"] = shapely.distance(site_ea[:, None], zone_geoms[None, :]).min(axis=1)
        return summary, hits


def make_screener() -> OverlayScreener:
    return OverlayScreener()


class SlowOverlayScreener(OverlayScreener):
    """Same results, but each chunk takes a while: lets tests kill a run in the middle."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        import time

        time.sleep(self.delay_s)
        return super().screen(sites)


def make_slow_screener(delay_s: float = 0.3) -> SlowOverlayScreener:
    return SlowOverlayScreener(delay_s)
