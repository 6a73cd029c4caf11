"""Screen one chunk of input rows: the unit of work shared by the local loop and Dask workers.

Why one function: "results identical to the single-process run" holds by construction when the
laptop and the cluster call exactly the same pure function on exactly the same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from zoning.batch.columns import ColumnRoles
from zoning.batch.rows import PreparedChunk, RowOptions, prepare_table_chunk, prepare_vector_chunk
from zoning.batch.screener import Screener, ScreenerSpec

RESULT_BASE = ("row", "status", "error")
SYSTEMIC_ROWS = 8


class ScreenerBrokenError(RuntimeError):
    """The screener fails on every row: a defect to report, not rows to mark as errors."""


@dataclass(frozen=True)
class ChunkJob:
    """Everything constant across the chunks of one batch (small and picklable)."""

    kind: Literal["table", "vector"]
    roles: ColumnRoles | None
    project_type_column: str | None
    options: RowOptions
    spec: ScreenerSpec


@dataclass
class ChunkResult:
    index: int
    results: pd.DataFrame
    hits: pd.DataFrame


def _screen_isolating(screener: Screener, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Screen all sites at once; if the bulk call fails, retry row by row to isolate the culprits.

    The row-by-row path only runs after a failure, so the hot path stays vectorised, and one
    pathological row can never sink a million-row batch. When the first ``SYSTEMIC_ROWS`` rows
    all fail on their own too, the screener is broken rather than the rows (a bug once sent every
    chunk of a million-row run down this path): that is raised, not written as error rows.
    """
    try:
        summary, hits = screener.screen(sites)
        return summary, hits, pd.Series(dtype=object)
    except Exception as bulk_error:  # any engine failure: find which rows cause it
        summaries, hit_frames, failures = [], [], {}
        first = min(SYSTEMIC_ROWS, len(sites))
        for tried, idx in enumerate(sites.index, start=1):
            try:
                s, h = screener.screen(sites.loc[[idx]])
                summaries.append(s)
                hit_frames.append(h)
            except Exception as exc:
                failures[idx] = f"screening failed: {type(exc).__name__}: {exc}"
                if tried == first == len(failures) and len(sites) >= 3:
                    raise ScreenerBrokenError(
                        f"the screener failed on the whole chunk and on each of its first {first} "
                        f"rows alone ({type(exc).__name__}: {exc}); this is a bug, not bad input"
                    ) from bulk_error
        summary = pd.concat(summaries) if summaries else pd.DataFrame(index=pd.Index([], dtype=int))
        hits = pd.concat(hit_frames, ignore_index=True) if hit_frames else pd.DataFrame({"site_index": []})
        return summary, hits, pd.Series(failures, dtype=object)


def assemble_results(prepared: PreparedChunk, summary: pd.DataFrame, failures: pd.Series) -> pd.DataFrame:
    """Input columns + row/status/error + the screener's summary columns + geometry."""
    frame = prepared.frame.copy()
    if len(failures):
        pos = failures.index.to_numpy(dtype=int)
        frame.loc[pos, "status"] = "error"
        frame.loc[pos, "error"] = failures.to_numpy()
    clash = [c for c in summary.columns if c in frame.columns or c == "geometry"]
    summary = summary.drop(columns=clash)
    # Integer counts stay integers on rows that were not screened (nullable, not float NaN).
    ints = {c: "Int64" for c in summary.columns if pd.api.types.is_integer_dtype(summary[c])}
    summary = summary.astype(ints)
    out = frame.join(summary, how="left") if len(summary.columns) else frame
    geometry = prepared.geometry.copy()
    geometry[(out["status"] == "error").to_numpy()] = None
    out["geometry"] = geometry
    return out


def process_chunk(job: ChunkJob, index: int, raw: pd.DataFrame, start_row: int) -> ChunkResult:
    """Validate, screen and assemble one chunk; ``start_row`` is the 1-based number of its first row."""
    screener = job.spec.build()
    options = replace(job.options, known_project_types=screener.known_project_types,
                      resolve_project_type=getattr(screener, "resolve_project_type", None))
    if job.kind == "table":
        assert job.roles is not None
        prepared = prepare_table_chunk(raw, start_row, job.roles, options)
    else:
        assert isinstance(raw, gpd.GeoDataFrame)
        prepared = prepare_vector_chunk(raw, start_row, options, job.project_type_column)
    sites = prepared.sites()
    if len(sites):
        summary, hits, failures = _screen_isolating(screener, sites)
    else:
        summary, hits, failures = pd.DataFrame(), pd.DataFrame({"site_index": []}), pd.Series(dtype=object)
    results = assemble_results(prepared, summary, failures)
    hits = hits.copy()
    if len(hits):
        rows = prepared.frame["row"].to_numpy()
        hits.insert(0, "row", rows[hits["site_index"].to_numpy(dtype=np.int64)])
    else:
        hits.insert(0, "row", pd.Series(dtype=np.int64))
    hits = hits.drop(columns=["site_index"], errors="ignore").reset_index(drop=True)
    return ChunkResult(index, results, hits)
