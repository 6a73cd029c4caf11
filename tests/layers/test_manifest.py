"""Manifest validation: every mistake names the manifest file, the layer id and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.errors import ManifestError
from layers.manifest import Accuracy, load_manifest, load_manifests
from tests.layers.conftest import ManifestWriter, layer_entry


def test_valid_manifest_resolves_paths(write_manifest: ManifestWriter, raw_dir: Path) -> None:
    path = write_manifest(
        [layer_entry("t_a", "sub/a.gpkg", crs="EPSG:4521", encoding="gbk", class_map={"核心": "core"},
                     kind="nature_reserve", reference={"expected": 100.0})],
        coverage="cov.fgb",
    )
    m = load_manifest(path)
    spec = m.layers[0]
    assert spec.path == raw_dir / "sub" / "a.gpkg"
    assert m.coverage_for(spec) == raw_dir / "cov.fgb"
    assert spec.accuracy is Accuracy.approximate
    assert spec.crs_obj is not None and spec.crs_obj.to_epsg() == 4521
    assert spec.reference is not None and spec.reference.metric == "area_km2"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"crs": "EPSG:99999"}, r"layer 't_a': field 'crs': cannot parse CRS 'EPSG:99999'"),
        ({"accuracy": "official"}, r"layer 't_a': field 'accuracy': 'official' is not allowed"),
        ({"kind": "forest"}, r"layer 't_a': field 'kind'"),
        ({"encoding": "klingon"}, r"field 'encoding': unknown text encoding 'klingon'"),
        ({"colour": "red"}, r"layer 't_a': field 'colour': unknown key"),
        ({"class_map": {"x": "nope"}}, r"class_map: \['nope'\] are not classes"),
        ({"id": "Bad-Id"}, r"layers\[0\]|layer 'Bad-Id': field 'id'"),
        ({"path": "dem.tif"}, r"kind: a GeoTIFF source needs kind 'raster'"),
        ({"valid_from": "2027-01-01", "valid_to": "2026-01-01"}, r"valid_from 2027-01-01 is after"),
    ],
)
def test_errors_name_file_layer_and_field(write_manifest: ManifestWriter, override: dict, message: str) -> None:
    path = write_manifest([{**layer_entry("t_a", "a.gpkg"), **override}])
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path)
    assert str(path) in str(info.value)


def test_duplicate_ids_across_manifests(tmp_path: Path, write_manifest: ManifestWriter) -> None:
    first = write_manifest([layer_entry("t_a", "a.gpkg")])
    other_dir = tmp_path / "raw" / "other"
    other_dir.mkdir(parents=True)
    second = other_dir / "manifest.yaml"
    second.write_text(first.read_text(encoding="utf-8").replace("region: test", "region: other"), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"layer id 't_a' is already used in .*test/manifest.yaml"):
        load_manifests([first, second])


def test_duplicate_ids_within_manifest(write_manifest: ManifestWriter) -> None:
    path = write_manifest([layer_entry("t_a", "a.gpkg"), layer_entry("t_a", "b.gpkg")])
    with pytest.raises(ManifestError, match="layer id 't_a' is used twice"):
        load_manifest(path)


def test_not_yaml(raw_dir: Path) -> None:
    path = raw_dir / "manifest.yaml"
    path.write_text("region: [unclosed", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(path)
