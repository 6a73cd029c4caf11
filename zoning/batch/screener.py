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
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import pandas as pd

from zoning.errors import DataUnavailableError, ZoningError

DEFAULT_FACTORY = "zoning.batch.screener:api_screener"
_CACHE: dict[str, Screener] = {}


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

    def build(self) -> Screener:
        """The screener for this process (built once, then reused by every chunk)."""
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


class ApiScreener:
    """The production screener: layer index + rulebook + ``zoning.api.screen_sites``."""

    def __init__(self, data_dir: Path, buffers_m: tuple[float, ...], as_of: date | None) -> None:
        try:
            from zoning.api import screen_sites
            from zoning.index import LayerIndex
            from zoning.rules import load_rulebook
        except ImportError as exc:
            raise DataUnavailableError(
                f"the screening engine is not available in this installation ({exc})",
                field="engine",
                hint="install the complete zoning package",
            ) from exc
        self._screen_sites = screen_sites
        self.index = LayerIndex.load(data_dir)
        self.rulebook = load_rulebook()
        self.buffers_m = buffers_m
        self.as_of = as_of or date.today()
        types = getattr(self.rulebook, "project_types", None)
        self.known_project_types = frozenset(_type_ids(types)) if types else None
        self.version = json.dumps(
            {"data": str(getattr(self.index, "version", data_dir)),
             "rulebook": str(getattr(self.rulebook, "version", ""))}, sort_keys=True
        )

    def screen(self, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        types = sites["project_type"] if sites["project_type"].notna().any() else None
        return self._screen_sites(
            sites, self.index, self.rulebook, buffers_m=self.buffers_m, as_of=self.as_of,
            project_types=types,
        )


def _type_ids(types: Any) -> list[str]:
    if isinstance(types, dict):
        return [str(k) for k in types]
    return [str(getattr(t, "id", t)) for t in types]


def api_screener(data_dir: str | None = None, buffers_m: list[float] | None = None,
                 as_of: str | None = None) -> ApiScreener:
    """Factory for the default spec (plain arguments so the spec stays JSON-able)."""
    # zoning/ never imports app/: read the same variable the settings read.
    folder = Path(data_dir or os.environ.get("ZONING_DATA_DIR") or "data/processed")
    return ApiScreener(folder, tuple(buffers_m or (1000, 5000, 10000)),
                       date.fromisoformat(as_of) if as_of else None)
