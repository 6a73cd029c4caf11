"""``POST /v1/batch``, ``GET /v1/batch/{job_id}``, ``GET /v1/batch/{job_id}/result``.

The upload is streamed to the job's folder (never held in memory), checked just enough to refuse
an unusable file at once (format, columns, row limit), and queued; the worker in ``app.jobs``
runs it outside the request. The router's lifespan starts and stops that worker, so restarting
the service resumes interrupted jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from app.jobs.store import Job, JobStatus
from app.jobs.worker import JobWorker
from app.settings import ZoningSettings
from app.uploads import check_file, copy_upload, safe_name
from zoning.batch.columns import detect_roles
from zoning.batch.read import inspect_input, iter_chunks
from zoning.batch.rows import resolve_crs
from zoning.errors import TooLargeError, ZoningError

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


class JobNotFoundError(ZoningError):
    status_code = 404
    code = "job_not_found"


class JobNotReadyError(ZoningError):
    status_code = 409
    code = "job_not_ready"


class BatchAccepted(BaseModel):
    job_id: str
    status: JobStatus
    rows_total: int | None = None
    status_url: str


class BatchJobStatus(BaseModel):
    """Progress and outcome of a batch job (``rows_done / rows_total``, rows with errors)."""

    job_id: str
    status: JobStatus
    filename: str
    rows_total: int | None = Field(None, description="data rows in the input (estimate until completed)")
    rows_done: int = 0
    error_rows: int = Field(0, description="rows with status=error so far")
    hits: int = 0
    error: str | None = Field(None, description="why the job failed")
    note: str | None = None
    attempts: int = 0
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    options: dict[str, str | int | None] = Field(default_factory=dict)
    results: dict[str, str] = Field(default_factory=dict, description="download links once completed")


def _settings() -> ZoningSettings:
    return ZoningSettings()


def make_worker(settings: ZoningSettings) -> JobWorker:
    return JobWorker(settings.state_dir / "batch", settings.data_dir, settings.max_batch_rows)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = getattr(app.state, "settings", None) or _settings()
    worker = make_worker(settings)
    app.state.batch_worker = worker
    worker.start()
    try:
        yield
    finally:
        await asyncio.to_thread(worker.stop)


router = APIRouter(tags=["batch"], lifespan=lifespan)


def get_worker(request: Request) -> JobWorker:
    worker = getattr(request.app.state, "batch_worker", None)
    if worker is None:  # the lifespan did not run (e.g. a TestClient without `with`)
        raise ZoningError("batch jobs are not available: the worker is not running", field="service")
    return worker


WorkerDep = Annotated[JobWorker, Depends(get_worker)]


def _status(job: Job) -> BatchJobStatus:
    links = ({f: f"/v1/batch/{job.id}/result?format={f}" for f in MEDIA_TYPES}
             if job.status == "completed" else {})
    return BatchJobStatus(
        job_id=job.id, status=job.status, filename=job.filename, rows_total=job.rows_total,
        rows_done=job.rows_done, error_rows=job.error_rows, hits=job.hits, error=job.error,
        note=job.note, attempts=job.attempts, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, options=job.options, results=links,
    )


def _precheck(path: Path, layer: str | None, crs: str | None, max_rows: int) -> int | None:
    """Refuse at once what can never run: unknown format, no coordinate columns, too many rows."""
    info = inspect_input(path, layer=layer)
    if info.total_rows is not None and info.total_rows > max_rows:
        raise TooLargeError(f"{info.total_rows} rows exceed the limit of {max_rows}", field="file",
                            hint="split the input into smaller files")
    if crs:
        resolve_crs(crs)
    if info.kind != "vector":
        first = next(iter_chunks(info, 5, layer=layer), None)
        if first is not None:
            detect_roles([str(c) for c in first.columns])
    return info.total_rows


@router.post("/v1/batch", status_code=202, response_model=BatchAccepted,
             summary="Start a batch job (multipart upload: file + options)",
             responses={413: {"description": "upload or row count over the limit"},
                        422: {"description": "not a usable table or GIS file"}})
async def create_job(
    request: Request,
    worker: WorkerDep,
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, KML or FlatGeobuf")],
    project_type: Annotated[str | None, Form(description="default project type for rows without one")] = None,
    crs: Annotated[str | None, Form(description="CRS of coordinates without a 坐标系 column")] = None,
    layer: Annotated[str | None, Form(description="layer of a multi-layer GIS file")] = None,
) -> BatchAccepted:
    settings: ZoningSettings = getattr(request.app.state, "settings", None) or _settings()
    name = safe_name(file.filename, allowed=None)
    job_id = uuid.uuid4().hex
    job_dir = worker.job_dir(job_id)
    job_dir.mkdir(parents=True)
    dest = job_dir / f"input{Path(name).suffix.lower()}"
    try:
        await asyncio.to_thread(copy_upload, file, dest, settings.max_upload_bytes)
        # Zips (zip bombs, ../ entries) and KML (DOCTYPE/ENTITY) are checked before GDAL opens them.
        await asyncio.to_thread(check_file, dest)
        rows = await asyncio.to_thread(_precheck, dest, layer or None, crs or None, settings.max_batch_rows)
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    options = {"project_type": project_type or None, "crs": crs or None, "layer": layer or None}
    job = worker.store.create(name, str(dest), options, rows, job_id=job_id)
    worker.notify()
    return BatchAccepted(job_id=job.id, status=job.status, rows_total=rows, status_url=f"/v1/batch/{job.id}")


def _job(worker: JobWorker, job_id: str) -> Job:
    job = worker.store.get(job_id)
    if job is None:
        raise JobNotFoundError(f"no batch job {job_id!r}", field="job_id", hint="use the job_id POST /v1/batch returned")
    return job


@router.get("/v1/batch/{job_id}", response_model=BatchJobStatus, summary="Status and progress of a batch job")
def job_status(job_id: str, worker: WorkerDep) -> BatchJobStatus:
    return _status(_job(worker, job_id))


@router.get("/v1/batch/{job_id}/result", summary="Download the results of a completed batch job",
            responses={409: {"description": "job not completed"}})
async def job_result(
    job_id: str, worker: WorkerDep,
    format: Annotated[Literal["csv", "xlsx", "geojson", "gpkg"], Query(description="output format")] = "xlsx",
) -> FileResponse:
    job = _job(worker, job_id)
    if job.status != "completed":
        raise JobNotReadyError(
            f"job {job_id} is {job.status}" + (f": {job.error}" if job.error else ""),
            field="job_id", hint="poll GET /v1/batch/{job_id} until status is completed",
        )
    path = await asyncio.to_thread(worker.result_path, job, format)
    stem = Path(job.filename).stem or "batch"
    return FileResponse(path, media_type=MEDIA_TYPES[format], filename=f"{stem}_results.{format}")
