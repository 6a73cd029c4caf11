"""Every input format and encoding gives the same screened rows, in order, one per input row."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from tests.batch.conftest import sample_frame
from zoning.batch.columns import detect_roles
from zoning.batch.engine import BatchOptions, run_batch
from zoning.batch.read import inspect_input
from zoning.errors import ZoningError


def _screen_csv(src: Path, tmp_path: Path, options: BatchOptions) -> pd.DataFrame:
    out = tmp_path / "out.csv"
    run_batch(src, out, options)
    return pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_give_identical_results(tmp_path: Path, options: BatchOptions, encoding: str) -> None:
    df = sample_frame(30)
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False, encoding=encoding)
    info = inspect_input(src)
    assert info.kind == "csv" and info.total_rows == 30
    assert info.encoding == ("gb18030" if encoding.startswith("gb") else encoding)
    got = _screen_csv(src, tmp_path, options)
    assert list(got["编号"]) == list(df["编号"])  # Chinese headers and ids survive
    assert list(got["项目名称"]) == list(df["项目名称"])
    assert list(got["row"]) == [str(i) for i in range(1, 31)]


def test_tab_separated_and_renamed_xlsx_detected_by_content(tmp_path: Path, options: BatchOptions) -> None:
    df = sample_frame(12)
    tsv = tmp_path / "in.txt"
    df.to_csv(tsv, index=False, sep="\t")
    xlsx_as_csv = tmp_path / "really_excel.csv"
    df.to_excel(xlsx_as_csv.with_suffix(".xlsx"), index=False)
    xlsx_as_csv.with_suffix(".xlsx").rename(xlsx_as_csv)
    assert inspect_input(tsv).delimiter == "\t"
    assert inspect_input(xlsx_as_csv).kind == "xlsx"
    a = _screen_csv(tsv, tmp_path, options)
    b = _screen_csv(xlsx_as_csv, tmp_path, options)
    pd.testing.assert_frame_equal(a, b)


def test_xlsx_numeric_cells_and_trailing_blank_rows(tmp_path: Path, options: BatchOptions) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "经度", "纬度"])
    ws.append([1001, 101.1, 36.1])  # numbers, not text
    ws.append([1002, 101.55, 36.55])
    ws.append([None, None, None])  # formatting-only rows at the end are not data
    ws.append([None, None, None])
    src = tmp_path / "in.xlsx"
    wb.save(src)
    got = _screen_csv(src, tmp_path, options)
    assert list(got["编号"]) == ["1001", "1002"]
    assert list(got["verdict"]) == ["prohibited", "prohibited"]


@pytest.mark.parametrize(
    ("headers", "lon", "lat"),
    [
        (["lon", "lat"], "lon", "lat"),
        (["Longitude", "Latitude"], "Longitude", "Latitude"),
        (["lng", "lat"], "lng", "lat"),
        (["经度（°）", "纬度（°）"], "经度（°）", "纬度（°）"),
        (["X坐标", "Y坐标"], "X坐标", "Y坐标"),
        (["东坐标", "北坐标"], "东坐标", "北坐标"),
        (["x", "y"], "x", "y"),
    ],
)
def test_coordinate_headers_recognised(headers: list[str], lon: str, lat: str) -> None:
    roles = detect_roles(["名称", *headers, "项目类型"])
    assert (roles.lon, roles.lat, roles.project_type) == (lon, lat, "项目类型")


def test_no_coordinate_columns_is_a_clear_error(tmp_path: Path, options: BatchOptions) -> None:
    src = tmp_path / "in.csv"
    src.write_text("名称,地址\na,西宁\n", encoding="utf-8")
    with pytest.raises(ZoningError, match="no coordinate or geometry columns") as info:
        run_batch(src, tmp_path / "out.csv", options)
    assert "经度/纬度" in (info.value.hint or "")


def _features() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"编号": ["A", "B", "C"], "project_type": ["wind", "solar", "road"]},
        geometry=[shapely.box(101.05, 36.05, 101.1, 36.1), shapely.Point(101.55, 36.55),
                  shapely.LineString([(105, 30), (105.1, 30.1)])],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shpzip", "kml", "fgb"])
def test_gis_inputs(tmp_path: Path, options: BatchOptions, fmt: str) -> None:
    gdf = _features()
    if fmt == "shpzip":  # a shapefile holds one geometry type: polygons around the same places
        b = gdf.geometry.bounds
        gdf = gdf.set_geometry(shapely.box(b.minx - 0.01, b.miny - 0.01, b.maxx + 0.01, b.maxy + 0.01))
        shp_dir = tmp_path / "shp"
        shp_dir.mkdir()
        pyogrio.write_dataframe(gdf, shp_dir / "sites.shp", encoding="UTF-8")
        src = tmp_path / "sites.zip"
        with zipfile.ZipFile(src, "w") as zf:
            for f in shp_dir.iterdir():
                zf.write(f, f.name)
    else:
        src = tmp_path / f"sites.{fmt}"
        driver = {"geojson": "GeoJSON", "gpkg": "GPKG", "kml": "KML", "fgb": "FlatGeobuf"}[fmt]
        # FlatGeobuf's spatial index would reorder the features; the file order is the input order.
        extra = {"SPATIAL_INDEX": "NO"} if fmt == "fgb" else {}
        pyogrio.write_dataframe(gdf, src, driver=driver, layer_options=extra or None)
    got = _screen_csv(src, tmp_path, options)
    assert len(got) == 3
    assert list(got["status"]) == ["ok", "ok", "ok"]
    assert list(got["verdict"]) == ["prohibited", "prohibited", "clear"]
    if fmt != "kml":  # KML keeps only name/description attributes
        assert list(got["编号"]) == ["A", "B", "C"]


def test_projected_gis_input_is_reprojected(tmp_path: Path, options: BatchOptions) -> None:
    gdf = _features().to_crs("EPSG:4545")  # CGCS2000 3-degree GK, CM 108
    src = tmp_path / "gk.gpkg"
    pyogrio.write_dataframe(gdf, src)
    got = _screen_csv(src, tmp_path, options)
    assert list(got["verdict"]) == ["prohibited", "prohibited", "clear"]


def test_ragged_csv_is_a_clear_error(tmp_path: Path, options: BatchOptions) -> None:
    src = tmp_path / "ragged.csv"
    src.write_text("经度,纬度\n101.1,36.1\n101.2,36.2,extra,cells\n", encoding="utf-8")
    with pytest.raises(ZoningError, match="malformed CSV") as info:
        run_batch(src, tmp_path / "out.csv", options)
    assert info.value.field == "file"
