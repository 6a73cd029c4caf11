"""`zoning batch projects.xlsx -o results.xlsx` on a 2,000-row sheet with broken rows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.cli import main
from tests.batch.conftest import SPEC, sample_frame


def test_two_thousand_row_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZONING_BATCH_SCREENER", SPEC.factory)
    src = tmp_path / "projects.xlsx"
    sample_frame(2000).to_excel(src, index=False)
    out = tmp_path / "results.xlsx"
    t0 = time.perf_counter()
    assert main(["batch", str(src), "-o", str(out), "--project-type", "solar"]) == 0
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    assert "2000 rows screened (800 with errors" in captured.out
    assert "rows/s" in captured.err  # the progress bar
    ws = load_workbook(out, read_only=True)["results"]
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == 2000
    status = header.index("status")
    error = header.index("error")
    broken = [r for r in body if r[status] == "error"]
    assert len(broken) == 800 and all(r[error] for r in broken)
    assert elapsed < 60


def test_bad_arguments_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZONING_BATCH_SCREENER", SPEC.factory)
    src = tmp_path / "p.csv"
    sample_frame(5).to_csv(src, index=False)
    assert main(["batch", str(src), "-o", str(tmp_path / "out.pdf")]) == 2
    assert "unknown output extension" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")]) == 2
