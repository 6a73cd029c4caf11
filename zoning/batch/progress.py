"""A command-line progress bar for batches: rows done / total, rows per second, ETA (rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    """Throughput in rows/s (rich's own speed column speaks bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("– rows/s" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")


@contextmanager
def rich_progress(label: str, console: Console | None = None) -> Iterator[Any]:
    """Yields a callback ``(rows_done, rows_total, manifest)`` for ``run_parts``."""
    console = console or Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RowsPerSecond(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
               TextColumn("[red]{task.fields[errors]} errors")]
    with Progress(*columns, console=console, transient=False) as progress:
        task_id = progress.add_task(label, total=None, errors=0)

        def update(done: int, total: int, manifest: dict[str, Any]) -> None:
            errors = sum(c["errors"] for c in manifest["chunks"].values())
            progress.update(task_id, completed=done, total=total or None, errors=errors)

        yield update
