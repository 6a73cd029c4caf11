"""The bundled data pack builds cleanly and meets the issue's bar (layer counts, metadata, checks)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from layers.catalog import verify_catalog
from layers.report import ILLUSTRATIVE_NOTE


def test_bundled_pack_catalog(bundled_data_dir: Path) -> None:
    catalog = verify_catalog(bundled_data_dir)
    per_region = Counter(e.region for e in catalog.layers)
    assert per_region["qinghai"] >= 15, per_region
    assert per_region["guizhou"] >= 5, per_region
    for e in catalog.layers:
        assert e.accuracy and e.source and e.version.startswith("sha256:"), e.id
        assert e.as_of is not None, f"{e.id}: no as_of in the manifest"
        assert e.coverage is not None, e.id
    kinds = {e.kind for e in catalog.layers if e.region == "qinghai"}
    assert {"admin", "river", "lake", "river_basin", "raster"} <= kinds


def test_bundled_report_is_honest(bundled_data_dir: Path) -> None:
    report = json.loads((bundled_data_dir / "build_report.json").read_text(encoding="utf-8"))
    checked = [lr for lr in report["layers"] if lr["reference"]]
    assert checked, "the data pack should carry reference figures"
    for lr in checked:
        assert lr["reference"]["deviation_pct"] is not None
        if lr["accuracy"] == "illustrative":
            assert ILLUSTRATIVE_NOTE in lr["reference"]["note"]
    for lr in report["layers"]:
        assert lr["features_out"] > 0, lr["id"]
