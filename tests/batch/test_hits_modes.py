"""``zoning batch`` with the real screener on the bundled pack: ``--hits nearest`` (the CSV
default) and ``--hits all`` give the same result rows, and a clean file has no error rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zoning.batch.engine import BatchOptions, run_batch
from zoning.batch.screener import DEFAULT_FACTORY, ScreenerSpec


def _points(path: Path, n: int, with_types: bool) -> None:
    rng = np.random.default_rng(21)
    frame = pd.DataFrame({
        "编号": np.arange(n),
        "经度": rng.uniform(99.0, 102.8, n).round(5),
        "纬度": rng.uniform(35.5, 38.5, n).round(5),
    })
    if with_types:
        frame["项目类型"] = [["solar_pv", "mining", "road", ""][i % 4] for i in range(n)]
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("with_types", [False, True])
def test_nearest_and_all_hits_give_the_same_csv(
    bundled_data_dir: Path, tmp_path: Path, with_types: bool
) -> None:
    src = tmp_path / "points.csv"
    _points(src, 400, with_types)
    outputs = {}
    for hits in ("nearest", "all"):
        spec = ScreenerSpec(DEFAULT_FACTORY, {"data_dir": str(bundled_data_dir), "hits": hits,
                                              "as_of": "2026-11-21"})
        out = tmp_path / f"{hits}.csv"
        summary = run_batch(src, out, BatchOptions(chunk_rows=150, spec=spec))
        assert summary["rows"] == 400 and summary["errors"] == 0
        outputs[hits] = pd.read_csv(out, encoding="utf-8-sig")
    near, every = outputs["nearest"], outputs["all"]
    assert (near["status"] == "ok").all() and near["verdict"].notna().all()
    assert list(near.columns) == list(every.columns)
    for column in near.columns:
        a, b = every[column], near[column]
        # both modes measure point sites on the layers' outlines: the same numbers, to the bit
        assert ((a.astype(str) == b.astype(str)) | (a.isna() & b.isna())).all(), column
