"""The docs/data.md walk-through, end to end: an official GBK red line in GK zone 33 replaces the
illustrative one by editing the manifest and rebuilding."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from layers.build import build
from tests.layers.conftest import ManifestWriter, layer_entry, polygons


def test_official_gbk_gauss_kruger_red_line_replaces_illustrative(
    raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    # The bundled, illustrative layer and a first build.
    polygons(["示意红线"], [shapely.box(100.0, 36.0, 100.5, 36.5)]).to_file(raw_dir / "eco_redline.gpkg")
    illustrative = layer_entry("qh_eco_redline", "eco_redline.gpkg", accuracy="illustrative", name_field="名称")
    out = tmp_path / "processed"
    before = build([write_manifest([illustrative])], out).catalog.get("qh_eco_redline")

    # The official delivery: GBK .dbf without .cpg, CGCS2000 GK zone 33 with zone-prefixed eastings.
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4521", always_xy=True)
    lonlat = [shapely.box(99.0, 36.0, 99.2, 36.2), shapely.box(99.3, 36.0, 99.5, 36.2)]
    gk = [shapely.transform(g, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1]))) for g in lonlat]
    assert gk[0].bounds[0] > 33_000_000
    official = raw_dir / "official"
    official.mkdir()
    frame = gpd.GeoDataFrame(
        {"HXMC": ["青海湖北岸红线", "日月山红线"], "HXLX": ["水源涵养", "生物多样性维护"], "HXBM": ["6301001", "6301002"]},
        geometry=gk,
        crs="EPSG:4521",
    )
    pyogrio.write_dataframe(frame, official / "生态保护红线.shp", encoding="GBK")
    (official / "生态保护红线.cpg").unlink(missing_ok=True)
    (official / "生态保护红线.prj").unlink()  # the delivery lost its .prj: the manifest says the CRS

    entry = layer_entry(
        "qh_eco_redline", "official/生态保护红线.shp", title="生态保护红线", encoding="gbk", crs="EPSG:4521",
        id_field="HXBM", name_field="HXMC", class_field="HXLX", code_field="HXBM", accuracy="authoritative",
        source="青海省自然资源厅", access="restricted",
    )
    result = build([write_manifest([entry])], out)
    after = result.catalog.get("qh_eco_redline")
    assert before is not None and after is not None
    assert after.version != before.version and after.accuracy == "authoritative" and after.access == "restricted"
    gdf = gpd.read_parquet(out / after.path)
    assert gdf["feature_id"].tolist() == ["6301001", "6301002"]
    assert gdf["name"].tolist() == ["青海湖北岸红线", "日月山红线"]
    assert gdf["HXLX"].tolist() == ["水源涵养", "生物多样性维护"]
    assert gdf.geometry.iloc[0].bounds == pytest.approx((99.0, 36.0, 99.2, 36.2), abs=1e-7)
    assert any("no CRS; using the manifest's EPSG:4521" in n for n in result.report.layers[0].notes)
