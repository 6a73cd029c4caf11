"""Outputs by extension, row count preserved, crash-safe parts and --resume."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from tests.batch.conftest import sample_frame
from zoning.batch.chunk import ChunkJob, ChunkResult
from zoning.batch.engine import (
    BatchOptions,
    LocalRunner,
    default_workdir,
    partial_name,
    run_batch,
    run_parts,
)
from zoning.batch.parts import PartStore
from zoning.errors import ZoningError


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "projects.csv"
    sample_frame(50).to_csv(path, index=False, encoding="gbk")
    return path


@pytest.mark.parametrize("chunk_rows", [3, 7, 50, 1000])
def test_one_output_row_per_input_row_whatever_the_chunking(src: Path, tmp_path: Path,
                                                            options: BatchOptions, chunk_rows: int) -> None:
    options.chunk_rows = chunk_rows
    out = tmp_path / f"out{chunk_rows}.csv"
    summary = run_batch(src, out, options)
    got = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert summary["rows"] == len(got) == 50
    assert list(got["row"].astype(int)) == list(range(1, 51))
    assert list(got.columns[:8]) == ["编号", "项目名称", "经度", "纬度", "项目类型", "row", "status", "error"]
    bad = got[got["status"] == "error"]
    assert summary["errors"] == len(bad) == 20  # rows 4,6,8,10 of every ten
    assert (bad["error"] != "").all() and (bad["verdict"] == "").all()
    assert set(got.loc[got["status"] == "ok", "verdict"]) <= {"prohibited", "restricted", "clear"}
    assert not default_workdir(out).exists()  # parts removed after success


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_chunks_in_flight_together_give_the_same_file(src: Path, tmp_path: Path,
                                                      options: BatchOptions, fmt: str) -> None:
    """Two or three chunks screened at once (the default runner overlaps them) write exactly
    what one chunk after the other writes."""
    options.chunk_rows = 4
    outs = []
    for in_flight in (1, 2, 3):
        out = tmp_path / f"out{in_flight}.{fmt}"
        run_batch(src, out, options, runner=LocalRunner(in_flight))
        outs.append(pd.read_excel(out, sheet_name=None) if fmt == "xlsx" else out.read_bytes())
    if fmt == "csv":
        assert outs[0] == outs[1] == outs[2]
    else:
        for other in outs[1:]:
            assert outs[0].keys() == other.keys()
            for sheet in ("results", "hits"):
                pd.testing.assert_frame_equal(outs[0][sheet], other[sheet])


def test_csv_has_bom_and_xlsx_has_three_sheets_frozen_and_filtered(src: Path, tmp_path: Path,
                                                                   options: BatchOptions) -> None:
    run_batch(src, tmp_path / "out.csv", options)
    assert (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    run_batch(src, tmp_path / "out.xlsx", options)
    wb = load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["results", "hits", "summary"]
    res = wb["results"]
    assert res.max_row == 51 and res.freeze_panes == "A2" and res.auto_filter.ref.startswith("A1:")
    header = [c.value for c in res[1]]
    assert header[:3] == ["编号", "项目名称", "经度"] and "verdict" in header
    hits = wb["hits"]
    hit_header = [c.value for c in hits[1]]
    assert hit_header[:3] == ["row", "layer", "layer_kind"] and hits.max_row > 1
    summary = {r[0].value: r[1].value for r in wb["summary"].iter_rows(min_row=2)}
    assert summary["rows"] == 50 and summary["rows with errors"] == 20


def test_rows_beyond_one_excel_sheet_continue_on_the_next(
    src: Path, tmp_path: Path, options: BatchOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoning.batch.write as write

    monkeypatch.setattr(write, "SHEET_ROWS", 3)  # an Excel sheet holds 1,048,575 data rows
    run_batch(src, tmp_path / "out.xlsx", options)
    wb = load_workbook(tmp_path / "out.xlsx")
    results = [n for n in wb.sheetnames if n.startswith("results")]
    hits = [n for n in wb.sheetnames if n.startswith("hits")]
    summary = {
        r[0].value: r[1].value
        for n in wb.sheetnames
        if n.startswith("summary")
        for r in wb[n].iter_rows(min_row=2)
    }
    n_hits = summary["hits (site × zone)"]
    assert results[:2] == ["results", "results (2)"] and len(results) == -(-50 // 3)
    assert len(hits) == max(1, -(-n_hits // 3))
    assert sum(wb[n].max_row - 1 for n in results) == summary["rows"] == 50
    assert sum(wb[n].max_row - 1 for n in hits) == n_hits
    assert all(wb[n]["A1"].value == wb["hits"]["A1"].value for n in hits)


def test_geojson_and_gpkg_outputs(src: Path, tmp_path: Path, options: BatchOptions) -> None:
    run_batch(src, tmp_path / "out.geojson", options)
    fc = json.loads((tmp_path / "out.geojson").read_text(encoding="utf-8"))
    assert len(fc["features"]) == 50
    errors = [f for f in fc["features"] if f["properties"]["status"] == "error"]
    assert all(f["geometry"] is None for f in errors) and len(errors) == 20
    run_batch(src, tmp_path / "out.gpkg", options)
    layers = dict(pyogrio.list_layers(tmp_path / "out.gpkg"))
    assert set(layers) == {"sites", "overlaps"}
    sites = gpd.read_file(tmp_path / "out.gpkg", layer="sites")
    overlaps = gpd.read_file(tmp_path / "out.gpkg", layer="overlaps")
    assert len(sites) == 50 and sites.crs.to_epsg() == 4490
    assert set(overlaps["row"]) <= set(sites.loc[sites["verdict"] == "prohibited", "row"]) | set(
        sites.loc[sites["verdict"] == "restricted", "row"])
    assert len(overlaps) > 0


def test_unknown_output_extension(src: Path, tmp_path: Path, options: BatchOptions) -> None:
    with pytest.raises(ZoningError, match="unknown output extension"):
        run_batch(src, tmp_path / "out.docx", options)


class _Crash(Exception):
    pass


class CrashingRunner(LocalRunner):
    """Runs ``limit`` chunks and then dies the way a killed process would (no cleanup)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.seen: list[int] = []

    def run(self, job: ChunkJob, tasks: Iterable[tuple[int, pd.DataFrame, int]]) -> Iterator[ChunkResult]:
        for result in super().run(job, tasks):
            if len(self.seen) == self.limit:
                raise _Crash
            self.seen.append(result.index)
            yield result


def test_resume_skips_finished_chunks_and_matches_an_uninterrupted_run(src: Path, tmp_path: Path,
                                                                       options: BatchOptions) -> None:
    full = tmp_path / "full.csv"
    run_batch(src, full, options)
    out = tmp_path / "resumed.csv"
    with pytest.raises(_Crash):
        run_batch(src, out, options, runner=CrashingRunner(3))
    assert not out.exists() and not partial_name(out).exists()  # never presented as complete
    store = PartStore(default_workdir(out))
    manifest = store.read_manifest()
    assert manifest is not None and sorted(manifest["chunks"]) == ["0", "1", "2"]
    stamps = {i: store.part_path(i, "results").stat().st_mtime_ns for i in range(3)}
    second = CrashingRunner(100)
    run_batch(src, out, options, resume=True, runner=second)
    assert second.seen == [3, 4, 5, 6, 7]  # 50 rows / 7 per chunk = 8 chunks; 0-2 not redone
    assert out.read_bytes() == full.read_bytes()
    assert stamps  # the parts of the first run were reused, not rewritten (checked via `seen`)


def test_resume_refuses_other_options(src: Path, tmp_path: Path, options: BatchOptions) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(_Crash):
        run_batch(src, out, options, runner=CrashingRunner(1))
    options.project_type = "wind"
    with pytest.raises(ZoningError, match="cannot resume"):
        run_batch(src, out, options, resume=True)


def test_hit_rows_are_kept_only_for_outputs_with_a_hits_table(
    src: Path, tmp_path: Path, options: BatchOptions
) -> None:
    """A CSV run writes no hit parts but still counts the hits; an XLSX run keeps them; a CSV
    run cut short cannot be resumed into an XLSX file (its hit rows were never kept)."""
    csv_out, xlsx_out = tmp_path / "out.csv", tmp_path / "out.xlsx"
    csv_totals = run_batch(src, csv_out, options, keep_parts=True)
    xlsx_totals = run_batch(src, xlsx_out, options, keep_parts=True)
    assert csv_totals["hits"] == xlsx_totals["hits"] > 0
    assert not list(default_workdir(csv_out).glob("*.hits.parquet"))
    assert list(default_workdir(xlsx_out).glob("*.hits.parquet"))
    sheet = load_workbook(xlsx_out, read_only=True)["hits"]
    assert sheet.max_row - 1 == xlsx_totals["hits"]

    cut = tmp_path / "cut.csv"
    with pytest.raises(_Crash):
        run_batch(src, cut, options, runner=CrashingRunner(2))
    store = PartStore(default_workdir(cut))
    with pytest.raises(ZoningError, match="kept no hit rows"):
        run_parts(src, store, replace(options, hit_parts=True), resume=True)


def test_empty_table_gives_empty_result(tmp_path: Path, options: BatchOptions) -> None:
    src = tmp_path / "empty.csv"
    src.write_text("经度,纬度\n", encoding="utf-8")
    summary = run_batch(src, tmp_path / "out.csv", options)
    assert summary["rows"] == 0
