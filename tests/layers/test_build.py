"""The build as a whole: standard columns, reports, determinism, skip-unchanged, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from app.cli import main
from layers.build import build
from layers.catalog import read_catalog, verify_catalog
from layers.errors import SourceDataError, SourceReadError
from layers.report import ILLUSTRATIVE_NOTE
from tests.layers.conftest import BOWTIE, XINING_BOX, ManifestWriter, layer_entry, polygons


def _park_source(raw_dir: Path) -> None:
    polygons(
        ["核心甲", "一般乙", "怪丙", "空丁"],
        [XINING_BOX, BOWTIE, shapely.box(101.6, 36.5, 101.65, 36.55), shapely.Polygon()],
        类型=["核心保护区", "一般控制区", "奇怪类", "核心区"],
        code=[630102.0, 630103.0, 630104.0, None],
        name=["x", "y", "z", "w"],
        accuracy=["authoritative", None, None, None],
    ).to_file(raw_dir / "park.gpkg")


def _park_manifest(write_manifest: ManifestWriter, **extra: object) -> Path:
    entry = layer_entry(
        "t_park", "park.gpkg", kind="national_park", name_field="名称", class_field="类型", code_field="code",
        accuracy="illustrative", derivation="drawn for the test", defaults={"park": "测试国家公园"},
        reference={"metric": "area_km2", "expected": 100.0, "source": "002_583ab5816dc09616.txt L199"},
    )
    entry.update(extra)
    return write_manifest([entry], coverage="cov.geojson")


@pytest.fixture
def park(raw_dir: Path, write_manifest: ManifestWriter) -> Path:
    _park_source(raw_dir)
    gpd.GeoDataFrame(geometry=[shapely.box(101.0, 36.0, 102.0, 37.0)], crs="EPSG:4490").to_file(raw_dir / "cov.geojson")
    return _park_manifest(write_manifest)


def test_standard_columns(park: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([park], out)
    gdf = gpd.read_parquet(out / "layers" / "t_park.parquet")
    assert list(gdf.columns[:7]) == ["feature_id", "name", "zone_class", "code", "accuracy", "derivation", "area_km2"]
    assert gdf["feature_id"].tolist() == ["1", "2", "3"]  # row 4 (empty) dropped, ids stay stable
    assert gdf["name"].tolist() == ["核心甲", "一般乙", "怪丙"]
    assert gdf["zone_class"].tolist() == ["core_protection", "general_control", "奇怪类"]
    assert gdf["code"].tolist() == ["630102", "630103", "630104"]  # text, no '.0'
    assert gdf["accuracy"].tolist() == ["authoritative", "illustrative", "illustrative"]
    assert set(gdf["derivation"]) == {"drawn for the test"}
    assert gdf["src_name"].tolist() == ["x", "y", "z"]  # clash with the standard column
    assert gdf["类型"].tolist() == ["核心保护区", "一般控制区", "奇怪类"]  # source attributes kept
    assert set(gdf["park"]) == {"测试国家公园"}  # manifest defaults
    assert gdf.crs.to_epsg() == 4490
    assert shapely.is_valid(gdf.geometry.array).all()


def test_area_is_ellipsoidal(park: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([park], out)
    gdf = gpd.read_parquet(out / "layers" / "t_park.parquet")
    # Independent check: the same square in an Albers equal-area projection on the same ellipsoid.
    albers = CRS.from_proj4("+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +ellps=GRS80 +units=m")
    to_albers = Transformer.from_crs("EPSG:4490", albers, always_xy=True)
    dense = shapely.segmentize(XINING_BOX, 0.0005)
    projected = shapely.transform(dense, lambda xy: np.column_stack(to_albers.transform(xy[:, 0], xy[:, 1])))
    expected_km2 = projected.area / 1e6
    assert gdf["area_km2"].iloc[0] == pytest.approx(expected_km2, rel=1e-4)


def test_report_lists_repairs_drops_warnings_and_reference(park: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build([park], out)
    lr = json.loads((out / "build_report.json").read_text(encoding="utf-8"))["layers"][0]
    assert lr["features_in"] == 4 and lr["features_out"] == 3
    assert lr["repairs"] == [{"feature_id": "2", "action": "repaired", "detail": "made valid (Self-intersection[101.85 36.65])"}]
    assert lr["drops"] == [{"feature_id": "4", "action": "dropped", "detail": "empty geometry"}]
    assert any("'奇怪类' (1)" in w and "class_map" in w for w in lr["warnings"])
    ref = lr["reference"]
    entry = result.catalog.get("t_park")
    assert entry is not None and entry.total_area_km2 is not None
    assert ref["actual"] == pytest.approx(entry.total_area_km2, abs=1e-3)
    assert ref["deviation_pct"] == pytest.approx((entry.total_area_km2 - 100.0), abs=0.01)
    assert ILLUSTRATIVE_NOTE in ref["note"]
    assert entry.reference is not None and entry.reference.deviation_pct == ref["deviation_pct"]


def test_class_map_fixes_unknown_label(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    _park_source(raw_dir)
    gpd.GeoDataFrame(geometry=[XINING_BOX], crs="EPSG:4490").to_file(raw_dir / "cov.geojson")
    manifest = _park_manifest(write_manifest, class_map={"奇怪类": "general_control"})
    build([manifest], tmp_path / "out")
    gdf = gpd.read_parquet(tmp_path / "out" / "layers" / "t_park.parquet")
    assert gdf["zone_class"].tolist() == ["core_protection", "general_control", "general_control"]
    report = json.loads((tmp_path / "out" / "build_report.json").read_text(encoding="utf-8"))
    assert report["layers"][0]["warnings"] == []


def test_catalog_and_coverage(park: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([park], out)
    catalog = verify_catalog(out)
    entry = catalog.get("t_park")
    assert entry is not None
    assert entry.kind == "national_park" and entry.region == "test" and entry.geometry_type == "polygon"
    assert entry.feature_count == 3 and entry.accuracy == "illustrative" and entry.source == "unit test"
    assert str(entry.as_of) == "2026-01-01" and entry.access == "public"
    assert entry.version.startswith("sha256:") and entry.path == "layers/t_park.parquet"
    assert entry.coverage is not None and entry.coverage.startswith("coverage/")
    cov = gpd.read_parquet(out / entry.coverage)
    assert len(cov) == 1 and cov.crs.to_epsg() == 4490
    assert shapely.equals(cov.geometry.iloc[0], shapely.box(101.0, 36.0, 102.0, 37.0))
    assert "area_km2" in entry.fields and "geometry" not in entry.fields


def test_two_builds_are_byte_identical(park: Path, tmp_path: Path) -> None:
    first = build([park], tmp_path / "a").catalog
    second = build([park], tmp_path / "b").catalog
    assert [e.version for e in first.layers] == [e.version for e in second.layers]
    assert (tmp_path / "a" / "catalog.json").read_bytes() == (tmp_path / "b" / "catalog.json").read_bytes()


def test_unchanged_layers_are_skipped_and_changes_rebuilt(park: Path, raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build([park], out)
    assert first.report.layers[0].outcome == "built"
    again = build([park], out)
    assert again.report.layers[0].outcome == "unchanged"
    assert build([park], out, force=True).report.layers[0].outcome == "built"
    assert again.catalog.get("t_park") == first.catalog.get("t_park")
    verify_catalog(out)
    # Touching the source content forces a rebuild.
    gdf = gpd.read_file(raw_dir / "park.gpkg")
    gdf.loc[0, "名称"] = "核心甲改"
    gdf.to_file(raw_dir / "park.gpkg")
    third = build([park], out)
    assert third.report.layers[0].outcome == "built"
    assert third.catalog.layers[0].version != first.catalog.layers[0].version
    # A damaged previous file is rebuilt, not trusted.
    (out / "layers" / "t_park.parquet").write_bytes(b"garbage")
    fourth = build([park], out)
    assert fourth.report.layers[0].outcome == "built"
    verify_catalog(out)


def test_failed_build_keeps_previous_output(park: Path, raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([park], out)
    (out / ".gitkeep").write_text("")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (raw_dir / "park.gpkg").write_bytes(b"corrupted by a bad copy")
    with pytest.raises(SourceReadError, match=r"layer 't_park': cannot read .*park.gpkg"):
        build([park], out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in {"out", "raw", ".out.lock"}]
    assert leftovers == []  # no temporary folder left


def test_gitkeep_survives_a_successful_swap(park: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".gitkeep").write_text("")
    build([park], out)
    assert (out / ".gitkeep").exists() and (out / "catalog.json").exists()


def test_missing_field_is_named(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(["甲"], [XINING_BOX]).to_file(raw_dir / "a.gpkg")
    manifest = write_manifest([layer_entry("t_a", "a.gpkg", name_field="NAME")])
    with pytest.raises(SourceDataError, match=r"layer 't_a': field 'name_field': source has no column 'NAME'; its columns: 名称"):
        build([manifest], tmp_path / "out")


def test_wrong_geometry_family_is_named(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(["河"], [shapely.LineString([(101, 36), (102, 37)])]).to_file(raw_dir / "l.gpkg")
    manifest = write_manifest([layer_entry("t_l", "l.gpkg")])
    with pytest.raises(SourceDataError, match=r"expects polygon geometries, the source holds \['line'\]"):
        build([manifest], tmp_path / "out")


def test_line_layer_lengths(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    # One degree of longitude along a meridian-parallel line at lat 0 is 111.319 km on GRS80.
    line = shapely.LineString([(100.0, 0.0), (100.0, 1.0)])
    polygons(["河"], [line], level=["干流"]).to_file(raw_dir / "r.gpkg")
    manifest = write_manifest([layer_entry("t_r", "r.gpkg", kind="river", class_field="level")])
    entry = build([manifest], tmp_path / "out").catalog.get("t_r")
    assert entry is not None and entry.geometry_type == "line"
    assert entry.total_length_km == pytest.approx(110.574, abs=0.01)
    gdf = gpd.read_parquet(tmp_path / "out" / "layers" / "t_r.parquet")
    assert gdf["zone_class"].tolist() == ["mainstem"] and "length_km" in gdf.columns


def test_cli_build_and_layers(park: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["build", "--manifest", str(park), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "t_park" in printed and "illustrative: large deviation expected" in printed
    assert "repaired feature 2" in printed and "dropped feature 4" in printed
    assert main(["layers", "--data", str(out), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in listed["layers"]] == ["t_park"]
    assert listed == json.loads((out / "catalog.json").read_text(encoding="utf-8"))
    assert main(["layers", "--data", str(out)]) == 0
    assert "national_park" in capsys.readouterr().out


def test_cli_error_exit_code(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest([layer_entry("t_missing", "nowhere.gpkg")])
    assert main(["build", "--manifest", str(manifest), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "layer 't_missing'" in err and "nowhere.gpkg" in err and "does not exist" in err


def test_cli_default_out_uses_env(park: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZONING_DATA_DIR", str(tmp_path / "envout"))
    assert main(["build", "--manifest", str(park), "--quiet"]) == 0
    assert read_catalog(tmp_path / "envout").get("t_park") is not None


def test_kind_any_takes_the_family_of_its_data(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    line = shapely.LineString([(101.0, 36.0), (101.5, 36.5)])
    polygons(["廊道"], [line]).to_file(raw_dir / "c.gpkg")
    polygons(["混合", "混合"], [line, XINING_BOX]).to_file(raw_dir / "m.gpkg")
    ok = write_manifest([layer_entry("t_c", "c.gpkg", kind="ecological_corridor")])
    entry = build([ok], tmp_path / "out").catalog.get("t_c")
    assert entry is not None and entry.geometry_type == "line" and entry.total_length_km is not None
    mixed = write_manifest([layer_entry("t_m", "m.gpkg", kind="ecological_corridor")])
    with pytest.raises(SourceDataError, match=r"mixed geometry families \['line', 'polygon'\]"):
        build([mixed], tmp_path / "out")


def test_feature_level_accuracy_must_be_valid(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(["甲"], [XINING_BOX], accuracy=["official"]).to_file(raw_dir / "a.gpkg")
    manifest = write_manifest([layer_entry("t_a", "a.gpkg")])
    with pytest.raises(SourceDataError, match=r"layer 't_a': field 'accuracy': source column 'accuracy' has \['official'\]"):
        build([manifest], tmp_path / "out")


def test_id_field_must_be_unique(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    polygons(["甲", "乙"], [XINING_BOX, BOWTIE], bm=["A1", "A1"]).to_file(raw_dir / "a.gpkg")
    manifest = write_manifest([layer_entry("t_a", "a.gpkg", id_field="bm")])
    with pytest.raises(SourceDataError, match=r"field 'id_field': 'bm' is not unique \(e.g. \['A1'\]\)"):
        build([manifest], tmp_path / "out")


def test_concurrent_builds_of_one_folder_wait_for_each_other(park: Path, tmp_path: Path) -> None:
    import fcntl
    import threading
    import time

    out = tmp_path / "out"
    messages: list[str] = []
    with open(tmp_path / ".out.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        worker = threading.Thread(target=build, args=([park], out), kwargs={"progress": messages.append})
        worker.start()
        deadline = time.monotonic() + 60
        while not messages and time.monotonic() < deadline:  # until the worker reached the lock
            time.sleep(0.05)
        time.sleep(0.2)
        assert not out.exists() and worker.is_alive()
        fcntl.flock(held, fcntl.LOCK_UN)
    worker.join(timeout=60)
    assert messages[0].startswith("waiting for another build")
    assert (out / "catalog.json").exists()


def test_layers_missing_from_the_manifests_are_reported_as_removed(
    park: Path, raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    polygons(["甲"], [XINING_BOX]).to_file(raw_dir / "a.gpkg")
    entries = [layer_entry("t_a", "a.gpkg")]
    both = write_manifest([*entries, layer_entry("t_b", "a.gpkg")])
    build([both], out)
    only_a = write_manifest(entries)
    result = build([only_a], out)
    assert result.report.removed == ["t_b"]
    assert [e.id for e in read_catalog(out).layers] == ["t_a"]
    assert not (out / "layers" / "t_b.parquet").exists()


def test_overlapping_features_are_reported(raw_dir: Path, write_manifest: ManifestWriter, tmp_path: Path) -> None:
    a = shapely.box(101.0, 36.0, 101.2, 36.2)
    b = shapely.box(101.1, 36.0, 101.3, 36.2)  # half of it over a
    c = shapely.box(101.3, 36.0, 101.4, 36.2)  # touches b only
    polygons(["甲", "乙", "丙"], [a, b, c]).to_file(raw_dir / "o.gpkg")
    manifest = write_manifest([layer_entry("t_o", "o.gpkg")])
    result = build([manifest], tmp_path / "out")
    warnings = result.report.layers[0].warnings
    assert len(warnings) == 1 and warnings[0].startswith("overlapping feature pairs: 1 ") and "1 × 2" in warnings[0]
    entry = result.catalog.get("t_o")
    gdf = gpd.read_parquet(tmp_path / "out" / "layers" / "t_o.parquet")
    assert entry is not None and entry.total_area_km2 is not None
    assert entry.total_area_km2 < gdf["area_km2"].sum()
    assert entry.total_area_km2 == pytest.approx(gdf["area_km2"].sum() * 0.4 / 0.5, rel=1e-3)
