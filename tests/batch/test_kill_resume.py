"""A `zoning batch` process killed mid-run resumes with --resume and finishes identically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.batch.conftest import SPEC, sample_frame
from zoning.batch.engine import BatchOptions, default_workdir, partial_name, run_batch

REPO = Path(__file__).resolve().parents[2]


def _cli(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ZONING_BATCH_SCREENER": "tests.batch.zones:make_slow_screener"}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "batch", str(src), "-o", str(out), "--chunk-rows", "20",
         "--project-type", "solar", "--no-progress", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell starting the tests in the background (``make test &``) leaves SIGINT ignored,
        # which the child would inherit, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_killed_run_resumes_without_redoing_chunks(tmp_path: Path) -> None:
    src = tmp_path / "projects.csv"
    sample_frame(200).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    manifest_path = default_workdir(out) / "manifest.json"

    proc = _cli(src, out)
    deadline = time.monotonic() + 60
    done: dict = {}
    while time.monotonic() < deadline:
        if manifest_path.exists():
            done = json.loads(manifest_path.read_text())["chunks"]
            if len(done) >= 3:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert 3 <= len(done) < 10, "the run should have been killed in the middle"
    assert not out.exists() and not partial_name(out).exists()

    parts = default_workdir(out)
    stamps = {k: (parts / f"part-{int(k):06d}.results.parquet").stat().st_mtime_ns for k in done}
    proc = _cli(src, out, "--resume", "--keep-parts")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "200 rows screened" in stdout

    reference = tmp_path / "reference.csv"
    run_batch(src, reference, BatchOptions(project_type="solar", chunk_rows=20, spec=SPEC))
    assert out.read_bytes() == reference.read_bytes()
    after = {k: (parts / f"part-{int(k):06d}.results.parquet").stat().st_mtime_ns for k in done}
    assert after == stamps  # chunks finished before the kill were not redone


def test_sigint_leaves_resumable_parts(tmp_path: Path) -> None:
    src = tmp_path / "projects.csv"
    sample_frame(200).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    proc = _cli(src, out)
    manifest_path = default_workdir(out) / "manifest.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if manifest_path.exists() and json.loads(manifest_path.read_text())["chunks"]:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "--resume" in stderr
    assert stderr.count("interrupted") == 1, stderr  # one message, the one that says what to do
    assert not out.exists()
    assert json.loads(manifest_path.read_text())["complete"] is False
