"""Shared fixtures: the overlay screener spec and small generated inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoning.batch.engine import BatchOptions
from zoning.batch.screener import ScreenerSpec

SPEC = ScreenerSpec("tests.batch.zones:make_screener")


def sample_frame(n: int, seed: int = 0, broken: bool = True) -> pd.DataFrame:
    """``n`` project rows around Xining, some inside the synthetic zones; every 10th row broken."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(100.8, 102.2, n).round(6).astype(str).astype(object)
    lat = rng.uniform(35.8, 37.0, n).round(6).astype(str).astype(object)
    types = rng.choice(["solar", "wind", "road", ""], n).astype(object)
    if broken:
        lon[3::10] = ""  # empty
        lat[5::10] = "北纬36"  # non-numeric
        lon[7::10], lat[7::10] = lat[7::10].copy(), lon[7::10].copy()  # swapped
        types[9::10] = "spaceport"  # unknown project type
    return pd.DataFrame({
        "编号": [f"P{i:05d}" for i in range(n)],
        "项目名称": [f"项目{i}" for i in range(n)],
        "经度": lon,
        "纬度": lat,
        "项目类型": types,
    })


@pytest.fixture
def options() -> BatchOptions:
    return BatchOptions(project_type="solar", chunk_rows=7, spec=SPEC)
