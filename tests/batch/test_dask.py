"""The same batch on a real Dask LocalCluster (2 worker processes on loopback) gives identical files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from tests.batch.conftest import SPEC, sample_frame
from zoning.batch.dask_runner import DaskRunner
from zoning.batch.engine import BatchOptions, run_batch

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        yield cluster


def test_dask_results_identical_to_single_process(tmp_path: Path, cluster: object) -> None:
    src = tmp_path / "projects.csv"
    sample_frame(150).to_csv(src, index=False)
    options = BatchOptions(project_type="solar", chunk_rows=25, spec=SPEC)
    for ext in ("csv",):
        run_batch(src, tmp_path / f"local.{ext}", options)
        with distributed.Client(cluster) as client:
            runner = DaskRunner(client)
            run_batch(src, tmp_path / f"dask.{ext}", options, runner=runner)
            assert len(client.nthreads()) == 2
        assert (tmp_path / f"local.{ext}").read_bytes() == (tmp_path / f"dask.{ext}").read_bytes()


def test_cli_scheduler_and_workers_flags(tmp_path: Path, cluster: object, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "projects.csv"
    sample_frame(60).to_csv(src, index=False)
    monkeypatch.setenv("ZONING_BATCH_SCREENER", SPEC.factory)
    base = ["batch", str(src), "--project-type", "solar", "--chunk-rows", "10", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "local.csv")]) == 0
    assert main([*base, "-o", str(tmp_path / "sched.csv"), "--scheduler", cluster.scheduler_address]) == 0
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "sched.csv").read_bytes()


@pytest.mark.slow
def test_cli_workers_starts_its_own_local_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "projects.csv"
    sample_frame(60).to_csv(src, index=False)
    monkeypatch.setenv("ZONING_BATCH_SCREENER", SPEC.factory)
    base = ["batch", str(src), "--project-type", "solar", "--chunk-rows", "10", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "local.csv")]) == 0
    assert main([*base, "-o", str(tmp_path / "workers.csv"), "--workers", "2"]) == 0
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "workers.csv").read_bytes()
