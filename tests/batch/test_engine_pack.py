"""The batch plumbing over the real engine: LayerIndex + zoning.bulk.screen_many on a data pack."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from tests.zoning.conftest import build_pack
from zoning.batch.engine import BatchOptions, run_batch
from zoning.batch.screener import DEFAULT_FACTORY, ScreenerSpec, SpatialScreener


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pack(tmp_path_factory.mktemp("pack"))


def test_spatial_screener_rows_and_columns(pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "sites.csv"
    pd.DataFrame({
        "名称": ["in red line A", "near A", "bad", "polygon over B"],
        "经度": ["101.72", "101.76", "x", ""],
        "纬度": ["36.62", "36.62", "36.6", ""],
        "WKT": ["", "", "", ""],
    }).to_csv(src, index=False)
    spec = ScreenerSpec("zoning.batch.screener:spatial_screener", {"data_dir": str(pack)})
    out = tmp_path / "out.gpkg"
    summary = run_batch(src, out, BatchOptions(chunk_rows=2, spec=spec))
    assert summary["rows"] == 4
    sites = gpd.read_file(out, layer="sites")
    assert list(sites["status"]) == ["ok", "ok", "error", "error"]
    kinds = SpatialScreener(pack, (1000.0, 5000.0, 10000.0)).kinds
    for kind in kinds:  # the same columns on every row, whatever the chunk held
        assert {f"{kind}_count", f"{kind}_overlap_m2", f"{kind}_nearest_m"} <= set(sites.columns)
    assert sites.loc[0, "ecological_red_line_count"] == 1
    assert sites.loc[0, "ecological_red_line_nearest_m"] == 0
    assert sites.loc[1, "ecological_red_line_count"] == 0
    assert 0 < sites.loc[1, "ecological_red_line_nearest_m"] < 1000  # 101.75 is A's east edge
    overlaps = gpd.read_file(out, layer="overlaps")
    red = overlaps[(overlaps["layer"] == "eco_redline") & (overlaps["row"] == 1) & (overlaps["relation"] == "intersects")]
    assert len(red) == 1 and red.geometry.iloc[0].geom_type == "Point"


def test_polygon_overlap_geometry_in_gpkg(pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "poly.csv"
    pd.DataFrame({"wkt": ["POLYGON((101.74 36.61, 101.78 36.61, 101.78 36.63, 101.74 36.63, 101.74 36.61))"]}
                 ).to_csv(src, index=False)
    spec = ScreenerSpec("zoning.batch.screener:spatial_screener", {"data_dir": str(pack)})
    out = tmp_path / "out.gpkg"
    run_batch(src, out, BatchOptions(spec=spec))
    overlaps = gpd.read_file(out, layer="overlaps")
    red = overlaps[(overlaps["layer"] == "eco_redline") & (overlaps["relation"] == "intersects")]
    assert len(red) == 1
    bounds = red.geometry.iloc[0].bounds  # site ∩ red line A = [101.74, 101.75] × [36.61, 36.63]
    assert bounds == pytest.approx((101.74, 36.61, 101.75, 36.63))
    assert red["overlap_area_m2"].iloc[0] > 0


class _Day(date):
    """``date`` whose ``today()`` is a fixed day (set per test)."""

    fixed = date(2026, 1, 1)

    @classmethod
    def today(cls) -> date:  # type: ignore[override]
        return cls.fixed


def test_a_resumed_run_keeps_the_date_it_started_at(
    pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules are judged at the day a run started, also for the rows a resume on a later day
    screens (``as_of`` not given)."""
    import zoning.batch.engine as engine
    from tests.batch.test_engine import CrashingRunner, _Crash

    src = tmp_path / "sites.csv"
    pd.DataFrame({"经度": [101.72 + 0.001 * i for i in range(30)], "纬度": [36.62] * 30}).to_csv(
        src, index=False
    )
    spec = ScreenerSpec(DEFAULT_FACTORY, {"data_dir": str(pack), "hits": "nearest"})
    options = BatchOptions(chunk_rows=10, spec=spec)
    out = tmp_path / "out.csv"
    monkeypatch.setattr(engine, "date", _Day)
    with pytest.raises(_Crash):
        run_batch(src, out, options, runner=CrashingRunner(1))
    _Day.fixed = date(2026, 1, 2)  # the next day
    run_batch(src, out, options, resume=True)
    assert set(pd.read_csv(out, dtype=str)["as_of"]) == {"2026-01-01"}
    fresh = tmp_path / "fresh.csv"
    run_batch(src, fresh, options)  # a new run starts at its own day
    assert set(pd.read_csv(fresh, dtype=str)["as_of"]) == {"2026-01-02"}
