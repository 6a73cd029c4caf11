"""The adapter protocol and the shared result shape."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from layers.catalog import read_catalog

SiteKind = Literal["point", "polygon", "line"]
RESULT_COLUMNS = ["site", "layer", "feature_id", "area_m2", "length_m"]


class Engine(Protocol):
    """What the worker drives; ``load`` is timed as start-up (read + index)."""

    name: str

    def version(self) -> str: ...

    def load(self, data_dir: Path, layers: list[str]) -> None: ...

    def screen_batch(self, sites: gpd.GeoDataFrame, kind: SiteKind) -> pd.DataFrame: ...

    def screen_one(self, geom: BaseGeometry, kind: SiteKind) -> pd.DataFrame: ...

    def close(self) -> None: ...


def polygon_layers(data_dir: Path | str) -> list[str]:
    """Ids of the polygon layers in a processed-data folder: the layers every engine screens."""
    return [e.id for e in read_catalog(data_dir).layers if e.geometry_type == "polygon"]


def layer_path(data_dir: Path | str, layer_id: str) -> Path:
    entry = read_catalog(data_dir).get(layer_id)
    if entry is None:
        raise KeyError(f"layer '{layer_id}' is not in the catalog of {data_dir}")
    return Path(data_dir) / entry.path


def result_frame(
    site: np.ndarray,
    layer: np.ndarray | str,
    feature_id: np.ndarray,
    area_m2: np.ndarray | None = None,
    length_m: np.ndarray | None = None,
) -> pd.DataFrame:
    """Normalise an engine's answer to ``RESULT_COLUMNS`` (NaN where a measure does not apply)."""
    n = len(site)
    nan = np.full(n, np.nan)
    return pd.DataFrame(
        {
            "site": np.asarray(site, dtype=np.int64),
            "layer": np.broadcast_to(np.asarray(layer, dtype=object), (n,)).copy(),
            "feature_id": np.asarray(feature_id, dtype=object).astype(str),
            "area_m2": nan if area_m2 is None else np.asarray(area_m2, dtype=float),
            "length_m": nan if length_m is None else np.asarray(length_m, dtype=float),
        },
        columns=RESULT_COLUMNS,
    )


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return result_frame(np.array([], dtype=np.int64), np.array([], dtype=object), np.array([]))
    return pd.concat(frames, ignore_index=True)
