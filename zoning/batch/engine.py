"""Run a batch: stream the input in chunks, screen each chunk, persist parts, then write the output.

Why this shape: reading is streamed and every finished chunk goes to disk at once, so memory stays
bounded by ``chunk_rows`` (times the number of chunks in flight) whatever the input size; the
final file is assembled from the parts under a temporary name and renamed only when complete, so
a file at the output path is always a whole result. The runner (in-process or Dask) is the only
thing that differs between a laptop and a cluster.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from zoning.batch.chunk import ChunkJob, ChunkResult, process_chunk
from zoning.batch.columns import detect_roles, load_aliases, normalise_header
from zoning.batch.parts import PartStore, fingerprint
from zoning.batch.read import InputInfo, inspect_input, iter_chunks
from zoning.batch.rows import RowOptions
from zoning.batch.screener import ScreenerSpec
from zoning.batch.write import check_output_format, write_output
from zoning.errors import TooLargeError, ZoningError

DEFAULT_CHUNK_ROWS = 50_000
XLSX_MAX_ROWS = 1_048_575
# options the engine sets for itself: not shown among the user's choices in the summary sheet
INTERNAL_OPTIONS = frozenset({"spec", "hit_parts", "text_parts"})


@dataclass
class BatchOptions:
    """What the user chose (CLI flags or HTTP form fields)."""

    crs: str | None = None
    project_type: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    layer: str | None = None
    max_rows: int | None = None
    spec: ScreenerSpec = field(default_factory=ScreenerSpec)
    # whether each chunk's hit rows are kept with its results: only outputs with a hits table
    # (XLSX, GeoPackage) read them, and writing them cost a CSV batch a tenth of its time
    hit_parts: bool = True
    # whether each chunk's result rows are also kept as CSV text, so a CSV output is assembled
    # by copying them (run_batch sets it for .csv outputs)
    text_parts: bool = False

    def run_key(self) -> dict[str, Any]:
        """The options that change results: a resumed run must use the same ones."""
        return {"crs": self.crs, "project_type": self.project_type, "chunk_rows": self.chunk_rows,
                "layer": self.layer, "screener": self.spec.key}


Task = tuple[int, pd.DataFrame, int]
ProgressCallback = Callable[[int, int, dict[str, Any]], None]


class Runner(Protocol):
    """Executes ``process_chunk`` over tasks, yielding results in any order."""

    def run(self, job: ChunkJob, tasks: Iterable[Task]) -> Iterator[ChunkResult]: ...


class LocalRunner:
    """In this process, with ``in_flight`` chunks at a time (two by default).

    Why two: a chunk's spatial stage runs under the layer index's lock in one thread per layer,
    while validating rows, evaluating the rulebook and writing the part hold one core. With a
    second chunk in flight, one chunk's spatial stage runs while the other is in those stages,
    so both cores stay busy; results are the same (each chunk is a pure function of its rows)
    and may arrive out of order, which the part store allows. Memory grows by one chunk.
    """

    def __init__(self, in_flight: int = 2) -> None:
        self.in_flight = max(1, in_flight)

    def run(self, job: ChunkJob, tasks: Iterable[Task]) -> Iterator[ChunkResult]:
        if self.in_flight == 1:
            for index, raw, start in tasks:
                yield process_chunk(job, index, raw, start)
            return
        with ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="chunk") as pool:
            pending: deque[Future[ChunkResult]] = deque()
            try:
                for index, raw, start in tasks:
                    pending.append(pool.submit(process_chunk, job, index, raw, start))
                    if len(pending) >= self.in_flight:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # an error or Ctrl-C: do not start what is still queued
                for future in pending:
                    future.cancel()


def _project_type_column(columns: list[str]) -> str | None:
    wanted = load_aliases().project_type
    for alias in wanted:
        for col in columns:
            if normalise_header(col) == alias:
                return col
    return None


def _job_for(info: InputInfo, first: pd.DataFrame, options: BatchOptions) -> ChunkJob:
    row_options = RowOptions(crs=options.crs, project_type=options.project_type)
    columns = [str(c) for c in first.columns if c != "geometry" or info.kind != "vector"]
    if info.kind == "vector":
        return ChunkJob("vector", None, _project_type_column(columns), row_options, options.spec)
    roles = detect_roles(columns)
    return ChunkJob("table", roles, roles.project_type, row_options, options.spec)


def run_parts(input_path: Path, store: PartStore, options: BatchOptions, *, resume: bool = False,
              runner: Runner | None = None, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Screen every chunk not yet in ``store``; returns the completed manifest.

    ``progress(rows_done, rows_total_estimate, manifest)`` is called after every chunk.
    """
    runner = runner or LocalRunner()
    info = inspect_input(input_path, layer=options.layer)
    if options.max_rows is not None and info.total_rows is not None and info.total_rows > options.max_rows:
        raise TooLargeError(
            f"{info.total_rows} rows exceed the limit of {options.max_rows}",
            field="file", hint="split the input into smaller files",
        )
    run = {"input": fingerprint(input_path), "options": options.run_key()}
    manifest = store.start(run, resume=resume)
    started = {
        # a new run (or one from before hit rows could be left out, which kept them)
        "hit_parts": options.hit_parts or bool(manifest["chunks"]),
        # the day the run started: its rules' date unless one was given
        "as_of": date.today().isoformat(),
    }
    if not started.keys() <= manifest.keys():
        manifest.update({k: v for k, v in started.items() if k not in manifest})
        store.save(manifest)
    # (after the run key: a run resumed on a later day is the same run, at its first day)
    options = replace(options, spec=options.spec.dated(manifest["as_of"]))
    keep_hits = bool(manifest["hit_parts"])  # a resumed run goes on as it started
    if options.hit_parts and not keep_hits:
        raise ZoningError(
            f"cannot resume: the partial run in {store.root} kept no hit rows (its output had no "
            "hits table), and this output needs them",
            field="resume", hint="run again without --resume, or resume to a .csv or .geojson file",
        )
    done = store.done_chunks(manifest)
    estimate = info.total_rows or 0
    rows_done = store.totals(manifest)["rows"]
    if progress:
        progress(rows_done, estimate, manifest)

    chunks = iter_chunks(info, options.chunk_rows, layer=options.layer)
    first = next(chunks, None)
    if first is None:
        manifest.update(input_done=True, total_rows=0, complete=True)
        store.save(manifest)
        return manifest
    job = _job_for(info, first, options)
    counted = {"rows": 0, "chunks": 0}

    def tasks() -> Iterator[Task]:
        start = 1
        for index, raw in enumerate(itertools.chain([first], chunks)):
            n = len(raw)
            counted["rows"] += n
            counted["chunks"] = index + 1
            if index not in done:
                yield index, raw, start
            start += n

    for result in runner.run(job, tasks()):
        store.write_part(manifest, result.index, result.results, result.hits, keep_hits=keep_hits,
                         csv_text=options.text_parts)
        rows_done += len(result.results)
        if progress:
            progress(rows_done, max(estimate, rows_done), manifest)
    missing = set(range(counted["chunks"])) - store.done_chunks(manifest)
    if missing:
        raise ZoningError(f"chunks {sorted(missing)[:5]} did not finish", field="batch",
                          hint="run again with --resume")
    manifest.update(input_done=True, total_rows=counted["rows"], complete=True)
    store.save(manifest)
    return manifest


def partial_name(output: Path) -> Path:
    """Where the output is written until it is complete."""
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def finish_output(store: PartStore, manifest: dict[str, Any], output: Path,
                  title: dict[str, Any] | None = None) -> Path:
    """Assemble the parts into ``output`` through a temporary file and an atomic rename."""
    if not manifest.get("complete"):
        raise ZoningError("the batch is not complete; partial results are not written as a result",
                          field="batch", hint="run again with --resume")
    tmp = partial_name(output)
    try:
        write_output(store, manifest, tmp, fmt=check_output_format(output), title=title or {})
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    return output


def default_workdir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def run_batch(input_path: Path | str, output: Path | str, options: BatchOptions | None = None, *,
              resume: bool = False, runner: Runner | None = None,
              progress: ProgressCallback | None = None, workdir: Path | None = None,
              keep_parts: bool = False) -> dict[str, Any]:
    """The whole batch: parts, then the output file; returns counts for the caller to report."""
    options = options or BatchOptions()
    input_path, output = Path(input_path), Path(output)
    fmt = check_output_format(output)
    if fmt not in ("xlsx", "gpkg"):
        options = replace(options, hit_parts=False)
    if fmt == "csv":
        options = replace(options, text_parts=True)
    if fmt == "xlsx":
        info = inspect_input(input_path, layer=options.layer)
        if info.total_rows and info.total_rows > XLSX_MAX_ROWS:
            raise TooLargeError(
                f"{info.total_rows} rows do not fit an Excel sheet ({XLSX_MAX_ROWS} rows)",
                field="output", hint="write .csv, .gpkg or .geojson instead",
            )
    store = PartStore(workdir or default_workdir(output))
    manifest = run_parts(input_path, store, options, resume=resume, runner=runner, progress=progress)
    title = {"input": input_path.name,
             "options": {k: v for k, v in asdict(options).items() if k not in INTERNAL_OPTIONS}}
    finish_output(store, manifest, output, title)
    totals = store.totals(manifest)
    if not keep_parts:
        store.remove()
    return {"output": str(output), **totals}
