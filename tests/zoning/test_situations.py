"""Bulk verdicts (rules evaluated once per situation) equal per-site verdicts, site by site."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from zoning.api import feature_signatures, screen_site, screen_sites
from zoning.index import LayerIndex
from zoning.rules import load_rulebook

TODAY = date(2026, 11, 21)
TYPES = ["solar_pv", "chemical", "mining", "road", None]


@pytest.fixture(scope="module")
def pack(bundled_data_dir: Path) -> LayerIndex:
    return LayerIndex.load(bundled_data_dir)


def _sites(n: int) -> gpd.GeoDataFrame:
    """Points and small squares around Xining, Qinghai Lake and the Qilian mountains."""
    rng = np.random.default_rng(11)
    lon = rng.uniform(99.5, 102.5, n)
    lat = rng.uniform(36.0, 38.5, n)
    geoms = [
        shapely.Point(x, y) if i % 3 else shapely.box(x, y, x + 0.01, y + 0.01)
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    return gpd.GeoDataFrame(
        {"project_type": [TYPES[i % len(TYPES)] for i in range(n)]}, geometry=geoms, crs=4490
    )


def test_bulk_verdicts_equal_single_site_verdicts(pack: LayerIndex) -> None:
    rulebook = load_rulebook()
    sites = _sites(240)
    summary, _ = screen_sites(
        sites, pack, rulebook, project_types=sites["project_type"], today=TODAY
    )
    for label, row in sites.iterrows():
        request = {"geometry": shapely.geometry.mapping(row.geometry)}
        if isinstance(row["project_type"], str):
            request["project"] = {"type": row["project_type"]}
        one = screen_site(request, pack, rulebook, today=TODAY)
        got = summary.loc[label]
        assert got["verdict"] == one.verdict, (label, request)
        governing = None if pd.isna(got["governing_rule"]) else got["governing_rule"]
        assert governing == (one.governing.rule_id if one.governing else None), (label, request)
        assert got["findings"] == len(one.findings), (label, request)


def test_features_that_rules_cannot_tell_apart_share_a_signature(pack: LayerIndex) -> None:
    signatures = feature_signatures(pack, load_rulebook())
    layer = next(v for v in pack.vectors.values() if v.kind == "control_unit")
    codes = signatures[layer.id]["by_row"]
    assert len(codes) == len(layer.feature_id)
    # control units differ by their control class (and code), so there are several signatures
    assert 1 < len(set(codes)) <= len(codes)
