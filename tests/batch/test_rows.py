"""Bad rows are reported on their own row and the batch goes on; CRSs are converted per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj

from zoning import gcj02
from zoning.batch.columns import detect_roles
from zoning.batch.rows import RowOptions, prepare_table_chunk

KNOWN = RowOptions(project_type="solar", known_project_types=frozenset({"solar", "wind"}))


def _prepare(raw: pd.DataFrame, opts: RowOptions = KNOWN):
    return prepare_table_chunk(raw, 1, detect_roles(list(raw.columns)), opts)


def test_each_kind_of_bad_row_gets_its_message() -> None:
    raw = pd.DataFrame({
        "经度": ["101.78", "", "abc", "36.6", "101.5", "200", "101.1", "800000"],
        "纬度": ["36.62", "36", "36", "101.7", "36.5", "10", "70", "4000000"],
        "项目类型": ["", "wind", "wind", "solar", "spaceport", "solar", "solar", "solar"],
    })
    prep = _prepare(raw)
    errors = list(prep.frame["error"])
    assert list(prep.frame["status"]) == ["ok"] + ["error"] * 7
    assert errors[0] == ""
    assert "empty coordinate in column '经度'" in errors[1]
    assert "'abc' in column '经度' is not a number" in errors[2]
    assert "swapped" in errors[3]
    assert "unknown project type 'spaceport'" in errors[4]
    assert "out of range" in errors[5]
    assert "outside China" in errors[6]
    assert "look like metres" in errors[7]
    assert list(prep.project_type) == ["solar", "wind", "wind", "solar", "spaceport", "solar", "solar", "solar"]
    assert len(prep.sites()) == 1 and prep.sites().index.tolist() == [0]


def test_per_row_crs_column_gk_gcj02_bd09() -> None:
    lon, lat = 101.7782, 36.6171  # Xining
    gk = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4528", always_xy=True)  # 3° zone 34, prefixed
    x, y = gk.transform(lon, lat)
    gx, gy = gcj02.wgs84_to_gcj02(lon, lat)
    bx, by = gcj02.wgs84_to_bd09(lon, lat)
    raw = pd.DataFrame({
        "x": [str(lon), str(x), str(float(gx)), str(float(bx)), str(lon)],
        "y": [str(lat), str(y), str(float(gy)), str(float(by)), str(lat)],
        "坐标系": ["WGS84", "EPSG:4528", "GCJ02", "百度", "no-such-crs"],
    })
    prep = _prepare(raw)
    assert list(prep.frame["status"]) == ["ok"] * 4 + ["error"]
    assert "unknown CRS 'no-such-crs'" in prep.frame["error"].iloc[4]
    pts = prep.geometry[:4]
    assert np.allclose([p.x for p in pts], lon, atol=1e-5)
    assert np.allclose([p.y for p in pts], lat, atol=1e-5)


def test_planar_columns_need_a_crs_and_swapped_xy_is_named() -> None:
    gk = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
    e, n = gk.transform(108.5, 34.2)
    raw = pd.DataFrame({"东坐标": [str(e), str(n)], "北坐标": [str(n), str(e)]})
    no_crs = _prepare(raw)
    assert all("no CRS was given" in m for m in no_crs.frame["error"])
    with_crs = _prepare(raw, RowOptions(crs="EPSG:4545"))
    assert list(with_crs.frame["status"]) == ["ok", "error"]
    assert "X/Y look swapped" in with_crs.frame["error"].iloc[1]
    assert abs(with_crs.geometry[0].x - 108.5) < 1e-6


def test_wkt_rows_invalid_and_unparseable() -> None:
    raw = pd.DataFrame({"WKT": [
        "POLYGON((101 36, 101.1 36, 101.1 36.1, 101 36.1, 101 36))",
        "POLYGON((101 36, 101.1 36.1, 101.1 36, 101 36.1, 101 36))",  # bow-tie
        "POLYGON((101 36, 101.1",
        "",
        "POINT EMPTY",
    ]})
    prep = _prepare(raw)
    errors = list(prep.frame["error"])
    assert list(prep.frame["status"]) == ["ok", "error", "error", "error", "error"]
    assert "Self-intersection" in errors[1]
    assert "cannot parse the WKT" in errors[2]
    assert "empty geometry" in errors[3] and "empty geometry" in errors[4]


def test_input_columns_named_like_result_columns_are_kept_with_prefix() -> None:
    raw = pd.DataFrame({"lon": ["101.1"], "lat": ["36.1"], "status": ["规划中"], "row": ["7"]})
    prep = _prepare(raw)
    assert prep.frame.loc[0, "input_status"] == "规划中" and prep.frame.loc[0, "input_row"] == "7"
    assert prep.frame.loc[0, "status"] == "ok" and prep.frame.loc[0, "row"] == 1
