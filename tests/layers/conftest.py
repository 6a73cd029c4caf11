"""Fixtures for the build pipeline: tiny sources and manifests written in code into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import yaml

#: A small square near Xining (lon 101.7, lat 36.6), in lon/lat.
XINING_BOX = shapely.box(101.70, 36.60, 101.75, 36.65)
BOWTIE = shapely.from_wkt("POLYGON ((101.8 36.6, 101.9 36.7, 101.9 36.6, 101.8 36.7, 101.8 36.6))")

ManifestWriter = Callable[..., Path]


def layer_entry(layer_id: str, path: str, **extra: Any) -> dict[str, Any]:
    """A minimal valid manifest layer entry; ``extra`` overrides or adds keys."""
    entry: dict[str, Any] = {
        "id": layer_id,
        "kind": "ecological_red_line",
        "title": "测试图层",
        "path": path,
        "accuracy": "approximate",
        "source": "unit test",
        "as_of": "2026-01-01",
    }
    entry.update(extra)
    return entry


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "raw" / "test"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def write_manifest(raw_dir: Path) -> ManifestWriter:
    """Write ``manifest.yaml`` into ``raw_dir`` from layer entries; returns its path."""

    def _write(layers: list[dict[str, Any]], region: str = "test", **top: Any) -> Path:
        doc = {"region": region, "title": "测试", **top, "layers": layers}
        path = raw_dir / "manifest.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return _write


def polygons(names: list[str], geoms: list[Any], crs: Any = "EPSG:4326", **columns: Any) -> gpd.GeoDataFrame:
    """A GeoDataFrame with a Chinese ``名称`` column (the usual official field name)."""
    return gpd.GeoDataFrame({"名称": names, **columns}, geometry=geoms, crs=crs)
