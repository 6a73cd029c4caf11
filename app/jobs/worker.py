"""The background worker that runs batch jobs outside the request, one at a time.

Why a thread in the service process: jobs must not block requests, and the heavy lifting
(GEOS, pyproj, Arrow) releases the GIL for most of its time; with ``ZONING_BATCH_SCHEDULER`` the
chunks go to a Dask cluster instead and the thread only coordinates. Each job writes its chunk
parts under its own folder, so a restart resumes where the job stopped.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.jobs.store import Job, JobStore, now
from zoning.batch.engine import BatchOptions, Runner, finish_output, run_parts
from zoning.batch.parts import PartStore
from zoning.batch.screener import DEFAULT_FACTORY, ScreenerSpec
from zoning.batch.write import OutputFormat

log = logging.getLogger("zoning.batch.jobs")


class BatchSettings(BaseSettings):
    """Batch-job settings (``ZONING_BATCH_*``); paths and limits come from ``ZoningSettings``."""

    model_config = SettingsConfigDict(env_prefix="ZONING_BATCH_", extra="ignore")

    screener: str = DEFAULT_FACTORY
    chunk_rows: int = 20_000
    max_attempts: int = 3
    scheduler: str | None = None
    poll_s: float = 0.5


class _Stopping(Exception):
    """Raised inside a job's progress callback when the service shuts down."""


class JobWorker:
    """Owns the job folders and the worker thread."""

    def __init__(self, root: Path, data_dir: Path, max_rows: int, settings: BatchSettings | None = None) -> None:
        self.root = root
        self.settings = settings or BatchSettings()
        self.store = JobStore(root / "jobs.sqlite")
        self.data_dir = data_dir
        self.max_rows = max_rows
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._result_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # --- folders -----------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def parts(self, job_id: str) -> PartStore:
        return PartStore(self.job_dir(job_id) / "parts")

    def spec(self) -> ScreenerSpec:
        if self.settings.screener == DEFAULT_FACTORY:
            return ScreenerSpec(DEFAULT_FACTORY, {"data_dir": str(self.data_dir)})
        return ScreenerSpec(self.settings.screener, {})

    def options(self, job: Job) -> BatchOptions:
        o = job.options
        return BatchOptions(crs=o.get("crs"), project_type=o.get("project_type"), layer=o.get("layer"),
                            chunk_rows=int(o.get("chunk_rows") or self.settings.chunk_rows),
                            max_rows=self.max_rows, spec=self.spec())

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        recovered = self.store.recover(self.settings.max_attempts)
        if recovered:
            log.info("batch jobs interrupted by the last shutdown: %s", recovered)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="batch-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim_next()
                if job is None:
                    self._wake.wait(self.settings.poll_s)
                    self._wake.clear()
                    continue
                self._run(job)
            except Exception:  # e.g. the job store on a full disk: the thread must not die
                log.exception("batch worker loop error; retrying")
                self._stop.wait(self.settings.poll_s)

    def _mark_failed(self, job_id: str, error: str) -> None:
        """Record a failure, retrying: its cause (a full disk) may block the job store too."""
        while True:
            try:
                self.store.update(job_id, status="failed", finished_at=now(), error=error)
                return
            except Exception:
                log.exception("could not record the failure of batch job %s; retrying", job_id)
                if self._stop.wait(self.settings.poll_s):
                    return

    def _runner(self) -> tuple[Runner | None, Any]:
        if not self.settings.scheduler:
            return None, None
        from distributed import Client

        from zoning.batch.dask_runner import DaskRunner

        client = Client(self.settings.scheduler, timeout="20s")
        return DaskRunner(client), client

    def _run(self, job: Job) -> None:
        """Run (or resume) one job; every outcome ends in a definite status."""
        parts = self.parts(job.id)

        def progress(done: int, total: int, manifest: dict[str, Any]) -> None:
            errors = sum(c["errors"] for c in manifest["chunks"].values())
            self.store.update(job.id, rows_done=done, error_rows=errors, rows_total=total or None)
            if self._stop.is_set():
                raise _Stopping

        client = None
        try:
            runner, client = self._runner()
            manifest = run_parts(Path(job.input_path), parts, self.options(job), resume=True,
                                 runner=runner, progress=progress)
            totals = parts.totals(manifest)
            self.store.update(job.id, status="completed", finished_at=now(), rows_done=totals["rows"],
                              rows_total=totals["rows"], error_rows=totals["errors"], hits=totals["hits"])
        except _Stopping:
            # Graceful shutdown: back to the queue; the next start resumes from the parts.
            self.store.update(job.id, status="queued", note="paused by a server shutdown")
        except Exception as exc:
            log.exception("batch job %s failed", job.id)
            detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
            hint = getattr(exc, "hint", None)
            self._mark_failed(job.id, detail + (f" ({hint})" if hint else ""))
        finally:
            if client is not None:
                client.close()

    # --- results -----------------------------------------------------------------------------
    def result_path(self, job: Job, fmt: OutputFormat) -> Path:
        """The job's result in ``fmt``, written from the parts on first request, then cached."""
        ext = {"csv": "csv", "xlsx": "xlsx", "geojson": "geojson", "gpkg": "gpkg"}[fmt]
        path = self.job_dir(job.id) / f"result.{ext}"
        with self._locks_guard:
            lock = self._result_locks.setdefault(job.id, threading.Lock())
        with lock:
            if not path.exists():
                parts = self.parts(job.id)
                manifest = parts.read_manifest()
                assert manifest is not None
                title = {"input": job.filename, "options": {k: v for k, v in job.options.items() if v}}
                finish_output(parts, manifest, path, title)
        return path

    def delete(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
