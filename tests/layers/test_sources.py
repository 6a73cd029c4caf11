"""Every supported source type, CRS handling and text encodings, through the real build."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.transform import from_origin

from layers.build import build
from layers.catalog import read_catalog
from layers.errors import LayerError, SourceDataError, SourceReadError
from tests.layers.conftest import XINING_BOX, ManifestWriter, layer_entry, polygons

NAMES = ["青海湖自然保护区", "祁连山生态屏障", "三江源"]


def _three_boxes() -> list[shapely.Polygon]:
    return [shapely.box(100.0 + i, 36.0, 100.5 + i, 36.5) for i in range(3)]


def _read(out: Path, layer_id: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(out / "layers" / f"{layer_id}.parquet")


def _report(out: Path, layer_id: str) -> dict:
    import json

    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    return next(lr for lr in report["layers"] if lr["id"] == layer_id)


def _gbk_shapefile(folder: Path) -> Path:
    path = folder / "redline.shp"
    gdf = polygons(NAMES, _three_boxes())
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert "青海湖".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    return path


def test_gbk_shapefile_without_cpg(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    _gbk_shapefile(raw_dir)
    manifest = write_manifest([layer_entry("t_gbk", "redline.shp", encoding="gbk", name_field="名称")])
    out = tmp_path / "out"
    build([manifest], out)
    gdf = _read(out, "t_gbk")
    assert gdf["name"].tolist() == NAMES
    assert gdf["名称"].tolist() == NAMES


def test_gbk_shapefile_without_encoding_is_flagged(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    _gbk_shapefile(raw_dir)
    manifest = write_manifest([layer_entry("t_gbk", "redline.shp")])
    out = tmp_path / "out"
    build([manifest], out)
    assert any("encoding: gbk" in n for n in _report(out, "t_gbk")["notes"])
    assert any("looks like GBK read as Latin-1" in w for w in _report(out, "t_gbk")["warnings"])
    named = write_manifest([layer_entry("t_gbk", "redline.shp", name_field="名称")])
    with pytest.raises(SourceDataError, match=r"no column '名称'; its columns: .*add `encoding: gbk`"):
        build([named], out)


def _gk_point(lon: float, lat: float) -> tuple[float, float]:
    """Zone-33 Gauss–Krüger coordinates of a point on the central meridian, computed without PROJ's
    TM code: easting is exactly the false easting 33 500 000 m and northing is the meridian arc."""
    assert lon == 99.0
    northing = Geod(ellps="GRS80").inv(99.0, 0.0, 99.0, lat)[2]
    return 33_500_000.0, northing


def test_gauss_kruger_with_zone_prefix(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    x, y = _gk_point(99.0, 36.0)
    square = shapely.box(x - 500, y - 500, x + 500, y + 500)
    polygons(["中心"], [square], crs="EPSG:4521").to_file(raw_dir / "gk.shp", encoding="utf-8")
    assert (raw_dir / "gk.prj").exists()
    manifest = write_manifest([layer_entry("t_gk", "gk.shp", name_field="名称")])
    out = tmp_path / "out"
    build([manifest], out)
    gdf = _read(out, "t_gk")
    c = gdf.geometry.iloc[0].centroid
    assert c.x == pytest.approx(99.0, abs=1e-7)
    assert c.y == pytest.approx(36.0, abs=1e-7)
    assert gdf["area_km2"].iloc[0] == pytest.approx(1.0, rel=2e-3)  # GK scale error near the CM is tiny
    assert "reprojected from EPSG:4521 to EPSG:4490" in _report(out, "t_gk")["notes"]


def test_missing_prj_with_crs_in_manifest(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    x, y = _gk_point(99.0, 36.0)
    polygons(["中心"], [shapely.box(x - 500, y - 500, x + 500, y + 500)], crs="EPSG:4521").to_file(raw_dir / "gk.shp")
    (raw_dir / "gk.prj").unlink()
    manifest = write_manifest([layer_entry("t_gk", "gk.shp", crs="EPSG:4521")])
    out = tmp_path / "out"
    build([manifest], out)
    assert _read(out, "t_gk").geometry.iloc[0].centroid.x == pytest.approx(99.0, abs=1e-7)
    assert any("no CRS; using the manifest's EPSG:4521" in n for n in _report(out, "t_gk")["notes"])


def test_missing_prj_without_crs_is_a_clear_error(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(["中心"], [XINING_BOX]).to_file(raw_dir / "noprj.shp")
    (raw_dir / "noprj.prj").unlink()
    manifest = write_manifest([layer_entry("t_noprj", "noprj.shp")])
    with pytest.raises(SourceReadError, match=r"layer 't_noprj': cannot read .*noprj.shp: the source has no CRS; add `crs:`"):
        build([manifest], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_wrong_crs_is_overridden_not_transformed(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    x, y = _gk_point(99.0, 36.0)
    # Coordinates are zone-33 GK but the file claims Web Mercator: the manifest fixes the label.
    polygons(["中心"], [shapely.box(x - 500, y - 500, x + 500, y + 500)], crs="EPSG:3857").to_file(raw_dir / "w.gpkg")
    manifest = write_manifest([layer_entry("t_w", "w.gpkg", crs="EPSG:4521")])
    out = tmp_path / "out"
    build([manifest], out)
    assert _read(out, "t_w").geometry.iloc[0].centroid.x == pytest.approx(99.0, abs=1e-7)
    assert any("overridden by the manifest's EPSG:4521" in n for n in _report(out, "t_w")["notes"])


def test_gk_without_zone_prefix_declared_with_prefix_code_is_refused(
    raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    x, y = _gk_point(99.0, 36.0)
    x -= 33_000_000  # no zone prefix, as EPSG:4542 would have it
    polygons(["中心"], [shapely.box(x - 500, y - 500, x + 500, y + 500)], crs="EPSG:4542").to_file(raw_dir / "np.gpkg")
    manifest = write_manifest([layer_entry("t_np", "np.gpkg", crs="EPSG:4521")])
    with pytest.raises(SourceDataError, match=r"layer 't_np': field 'crs': read as EPSG:4521.*outside China") as info:
        build([manifest], tmp_path / "out")
    assert "no zone prefix" in str(info.value) and "EPSG:4542 for 99°E" in str(info.value)


def test_zone_prefix_hint_names_the_epsg_code(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    x, y = _gk_point(99.0, 36.0)
    # Prefixed eastings declared as the no-prefix CM code: the hint names zone 33 = EPSG:4521.
    polygons(["中心"], [shapely.box(x - 500, y - 500, x + 500, y + 500)], crs="EPSG:4542").to_file(raw_dir / "p.gpkg")
    manifest = write_manifest([layer_entry("t_p", "p.gpkg")])
    with pytest.raises(SourceDataError, match=r"zone prefix 33: CGCS2000 3-degree Gauss–Krüger zone 33 is EPSG:4521"):
        build([manifest], tmp_path / "out")


def test_zipped_shapefile(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    shp = _gbk_shapefile(staging)
    with zipfile.ZipFile(raw_dir / "redline.zip", "w") as zf:
        for part in staging.iterdir():
            zf.write(part, f"红线/{part.name}")
    manifest = write_manifest([layer_entry("t_zip", "redline.zip", encoding="gbk", name_field="名称")])
    out = tmp_path / "out"
    build([manifest], out)
    assert _read(out, "t_zip")["name"].tolist() == NAMES
    assert shp.exists()


def test_geopackage_layer_choice(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    gpkg = raw_dir / "multi.gpkg"
    polygons(["甲"], [XINING_BOX]).to_file(gpkg, layer="first")
    polygons(NAMES, _three_boxes()).to_file(gpkg, layer="second")
    no_layer = write_manifest([layer_entry("t_gpkg", "multi.gpkg")])
    with pytest.raises(SourceReadError, match=r"several layers \['first', 'second'\]; choose one with `layer:`"):
        build([no_layer], tmp_path / "out")
    manifest = write_manifest([layer_entry("t_gpkg", "multi.gpkg", layer="second", name_field="名称")])
    build([manifest], tmp_path / "out")
    assert _read(tmp_path / "out", "t_gpkg")["name"].tolist() == NAMES
    bad = write_manifest([layer_entry("t_gpkg", "multi.gpkg", layer="third")])
    with pytest.raises(SourceReadError, match=r"no layer 'third'"):
        build([bad], tmp_path / "out")


@pytest.mark.parametrize(("suffix", "driver"), [(".kml", "KML"), (".fgb", "FlatGeobuf"), (".geojson", "GeoJSON")])
def test_ogr_formats(suffix: str, driver: str, raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"Name": NAMES}, geometry=_three_boxes(), crs="EPSG:4326")
    pyogrio.write_dataframe(gdf, raw_dir / f"src{suffix}", driver=driver)
    manifest = write_manifest([layer_entry("t_fmt", f"src{suffix}", name_field="Name")])
    out = tmp_path / "out"
    build([manifest], out)
    result = _read(out, "t_fmt")
    assert sorted(result["name"]) == sorted(NAMES)  # FlatGeobuf's spatial index reorders rows
    assert result.crs.to_epsg() == 4490
    entry = read_catalog(out).get("t_fmt")
    assert entry is not None and entry.feature_count == 3
    assert entry.bbox == pytest.approx((100.0, 36.0, 102.5, 36.5))


def _write_tif(path: Path, crs: str, transform: rasterio.Affine, data: np.ndarray, nodata: float | None = None) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata,
    ) as ds:
        ds.write(data, 1)


def test_geotiff_in_wgs84_becomes_cog(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    data = (np.arange(100 * 120, dtype="float32").reshape(100, 120) + 3000.0)
    _write_tif(raw_dir / "dem.tif", "EPSG:4326", from_origin(100.0, 37.0, 0.01, 0.01), data, nodata=-9999.0)
    manifest = write_manifest([layer_entry("t_dem", "dem.tif", kind="raster", unit="m")])
    out = tmp_path / "out"
    build([manifest], out)
    with rasterio.open(out / "layers" / "t_dem.tif") as ds:
        assert ds.crs.to_epsg() == 4490
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert np.array_equal(ds.read(1), data)
    entry = read_catalog(out).get("t_dem")
    assert entry is not None and entry.geometry_type == "raster" and entry.unit == "m"
    assert entry.bbox == pytest.approx((100.0, 36.0, 101.2, 37.0))


def test_geotiff_in_projected_crs_is_warped(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4521", always_xy=True)
    x0, y0 = to_gk.transform(98.9, 36.1)
    data = np.full((50, 50), 4000, dtype="int16")
    _write_tif(raw_dir / "gk.tif", "EPSG:4521", from_origin(x0, y0, 200.0, 200.0), data, nodata=-32768)
    manifest = write_manifest([layer_entry("t_gkdem", "gk.tif", kind="raster")])
    out = tmp_path / "out"
    build([manifest], out)
    with rasterio.open(out / "layers" / "t_gkdem.tif") as ds:
        assert ds.crs.to_epsg() == 4490
        left, _, _, top = ds.bounds
        assert left == pytest.approx(98.9, abs=0.01) and top == pytest.approx(36.1, abs=0.01)
        values = ds.read(1)
        assert set(np.unique(values).tolist()) <= {4000, -32768}
    assert any("reprojected from EPSG:4521" in n for n in _report(out, "t_gkdem")["notes"])


def test_unreadable_source_names_layer_file_and_cause(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    (raw_dir / "broken.gpkg").write_bytes(b"this is not a geopackage")
    manifest = write_manifest([layer_entry("t_broken", "broken.gpkg")])
    with pytest.raises(SourceReadError) as info:
        build([manifest], tmp_path / "out")
    assert info.value.layer == "t_broken"
    assert info.value.path.endswith("broken.gpkg")
    assert info.value.cause


def test_missing_source_file(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    manifest = write_manifest([layer_entry("t_missing", "nowhere.gpkg")])
    with pytest.raises(LayerError, match=r"layer 't_missing': cannot read .*nowhere.gpkg: file does not exist"):
        build([manifest], tmp_path / "out")


def test_wrong_encoding_is_a_clear_error(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    _gbk_shapefile(raw_dir)
    manifest = write_manifest([layer_entry("t_u", "redline.shp", encoding="ascii")])
    with pytest.raises(SourceReadError, match=r"layer 't_u': cannot read .*redline.shp: attribute text is not valid ascii"):
        build([manifest], tmp_path / "out")


def test_encoding_is_ignored_for_utf8_formats(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(NAMES, _three_boxes()).to_file(raw_dir / "g.gpkg")
    manifest = write_manifest([layer_entry("t_g", "g.gpkg", encoding="gbk", name_field="名称")])
    build([manifest], tmp_path / "out")
    assert _read(tmp_path / "out", "t_g")["name"].tolist() == NAMES
    assert any("ignored" in n for n in _report(tmp_path / "out", "t_g")["notes"])
