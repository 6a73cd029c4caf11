"""The one screening call a batch makes per chunk, and how a worker process builds it.

Why a spec and not an object: Dask workers (possibly on other machines) must build their own
screener from the processed data on shared storage; a ``ScreenerSpec`` is a small picklable
recipe ("factory function + options"), and ``build()`` caches the screener once per process so
the layer index is loaded once per worker, not once per chunk. The default factory glues the
engine's bulk path (``zoning.api.screen_sites``); any other callable with the same contract can be
swapped in (tests use a small real overlay screener).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.batch.summary import INSIDE, summarise_hits
from zoning.errors import ZoningError

DEFAULT_FACTORY = "zoning.batch.screener:api_screener"
DEFAULT_BUFFERS = (1000.0, 5000.0, 10000.0)
log = logging.getLogger("zoning.batch")
_CACHE: dict[str, Screener] = {}
_BUILDING = threading.Lock()


class Screener(Protocol):
    """Screens many sites at once.

    ``screen(sites)`` gets a GeoDataFrame in EPSG:4490 (index = row position in the chunk, column
    ``project_type``) and returns ``(summary, hits)``: ``summary`` has one row per site with the
    same index (verdict, strongest finding, per-kind counts/areas, nearest distances); ``hits``
    has one row per site × zone feature with a ``site_index`` column holding the site's index.
    """

    version: str
    known_project_types: frozenset[str] | None

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]: ...


@dataclass(frozen=True)
class ScreenerSpec:
    """A picklable recipe for a screener: ``"module:function"`` called with ``options``."""

    factory: str = DEFAULT_FACTORY
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return json.dumps({"factory": self.factory, "options": self.options}, sort_keys=True, default=str)

    def dated(self, day: str) -> ScreenerSpec:
        """This spec with the date the rules are evaluated at fixed to ``day`` (ISO), unless a
        date was given; only the default factory takes one. A batch fixes the date when it
        starts, so every row of a file, resumed on a later day or screened by Dask workers
        started on different days, is judged at the same date."""
        if self.factory != DEFAULT_FACTORY or self.options.get("as_of"):
            return self
        return ScreenerSpec(self.factory, {**self.options, "as_of": day})

    def build(self) -> Screener:
        """The screener for this process (built once, then reused by every chunk)."""
        with _BUILDING:  # chunks in flight together must not each load the layer index
            return self._build()

    def _build(self) -> Screener:
        cached = _CACHE.get(self.key)
        if cached is None:
            module_name, _, attr = self.factory.partition(":")
            try:
                func = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ZoningError(
                    f"screener factory {self.factory!r} cannot be imported: {exc}",
                    field="screener",
                    hint="give 'package.module:function' importable on every worker",
                ) from exc
            cached = func(**self.options)
            _CACHE[self.key] = cached
        return cached


class SpatialScreener:
    """Spatial screening only: the engine's bulk path summarised per layer kind.

    Used as is when the rule evaluation's bulk twin (``zoning.api.screen_sites``) is not
    installed, and as the base of ``ApiScreener``.
    """

    known_project_types: frozenset[str] | None = None

    def __init__(self, data_dir: Path, buffers_m: tuple[float, ...]) -> None:
        from zoning.index import LayerIndex

        self.index = LayerIndex.load(data_dir)
        self.buffers_m = buffers_m
        self.kinds = sorted({layer.kind for layer in self.index.vectors.values()})
        self.version = json.dumps({"data": str(data_dir), "buffers_m": list(buffers_m),
                                   "layers": {k: v.entry.version for k, v in self.index.vectors.items()}},
                                  sort_keys=True)

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        from zoning.bulk import screen_many

        hits = self.with_overlaps(screen_many(sites, self.index, self.buffers_m), sites)
        return summarise_hits(hits, sites.index, self.kinds), hits

    def with_overlaps(self, hits: pd.DataFrame, sites: gpd.GeoDataFrame) -> pd.DataFrame:
        """Add the overlap geometry (site ∩ feature) of intersecting hits, for the GPKG layer.

        One vectorised intersection per layer over its intersecting pairs only; other hits get
        an empty geometry. Drops ``feature_row`` and the frame's ``attrs`` (not tabular).
        """
        hits = hits.copy()
        hits.attrs = {}
        if "geometry" in hits.columns or "feature_row" not in hits.columns:
            return hits.drop(columns=["feature_row"], errors="ignore")
        geoms = np.full(len(hits), None, dtype=object)
        inside = hits["relation"].isin(INSIDE).to_numpy()
        site_geoms = sites.geometry
        for layer_id in pd.unique(hits.loc[inside, "layer"]):
            layer = self.index.vectors.get(layer_id)
            if layer is None or layer.entry.access == "restricted":
                continue  # a restricted boundary never leaves the server (SECURITY.md)
            rows = np.flatnonzero(inside & (hits["layer"] == layer_id).to_numpy())
            a = site_geoms.loc[hits["site_index"].to_numpy()[rows]].to_numpy()
            # A point that meets a zone is its own overlap: no overlay against the whole
            # feature (a 25,000-vertex red line), which cost a quarter of a point batch.
            point = shapely.get_type_id(a) == 0
            geoms[rows[point]] = a[point]
            rest = np.flatnonzero(~point)
            if rest.size:
                b = layer.geoms[hits["feature_row"].to_numpy(dtype=np.int64)[rows[rest]]]
                geoms[rows[rest]] = shapely.intersection(a[rest], b)
        hits["geometry"] = geoms
        return hits.drop(columns=["feature_row"])


class ApiScreener(SpatialScreener):
    """The production screener: layer index + rulebook + ``zoning.api.screen_sites``."""

    def __init__(self, data_dir: Path, buffers_m: tuple[float, ...], as_of: date | None,
                 hits: str = "all") -> None:
        super().__init__(data_dir, buffers_m)
        from zoning.rules import load_rulebook

        self.rulebook = load_rulebook()
        self.as_of = as_of or date.today()
        self.hits = hits
        self._screen_sites: Callable[..., Any] | None
        try:
            from zoning.api import check_hit_rows, screen_sites

            self.hits = check_hit_rows(hits)
            self._screen_sites = screen_sites
        except ImportError:
            log.warning("zoning.api.screen_sites is not available: batch results carry spatial "
                        "columns only, no verdicts")
            self._screen_sites = None
        self.version = json.dumps({"spatial": self.version, "rulebook": str(self.rulebook.version),
                                   "as_of": self.as_of.isoformat(), "hits": hits}, sort_keys=True)

    def resolve_project_type(self, value: str) -> str:
        """Id or alias → canonical id; ``UnknownProjectTypeError`` names the known ids."""
        return str(self.rulebook.taxonomy.get(value).id)

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._screen_sites is None:
            return super().screen(sites)
        types = sites["project_type"] if sites["project_type"].notna().any() else None
        summary, hits = self._screen_sites(
            sites, self.index, self.rulebook, buffers_m=self.buffers_m, as_of=self.as_of,
            project_types=types, hit_rows=self.hits,
        )
        if self.hits == "nearest":
            # nearest-only hits feed outputs without a hits table (CSV, GeoJSON): no overlap
            # geometry is computed for them (site ∩ whole feature is the costly part for polygons)
            return summary, hits.drop(columns=["feature_row"], errors="ignore").assign(geometry=None)
        return summary, self.with_overlaps(hits, sites)


def _folder(data_dir: str | None) -> Path:
    # zoning/ never imports app/: read the same variable the settings read.
    return Path(data_dir or os.environ.get("ZONING_DATA_DIR") or "data/processed")


def spatial_screener(data_dir: str | None = None, buffers_m: list[float] | None = None) -> SpatialScreener:
    """Factory: spatial columns only (no rules)."""
    return SpatialScreener(_folder(data_dir), tuple(buffers_m or DEFAULT_BUFFERS))


def api_screener(data_dir: str | None = None, buffers_m: list[float] | None = None,
                 as_of: str | None = None, hits: str = "all") -> ApiScreener:
    """Factory for the default spec (plain arguments so the spec stays JSON-able).

    ``hits``: ``"all"`` (every zone within reach, one hit row each: the XLSX hits sheet and the
    GeoPackage overlaps layer) or ``"nearest"`` (the zones met plus the nearest zone per layer and
    per kind the rules tell apart: the same per-row results, much faster; for CSV and GeoJSON,
    which carry no hits).
    """
    return ApiScreener(_folder(data_dir), tuple(buffers_m or DEFAULT_BUFFERS),
                       date.fromisoformat(as_of) if as_of else None, hits)
