"""The build report: what each layer went through, saved as JSON and printed as a table.

Why: a GIS officer has to trust (or challenge) the processed data. The report lists every repair
and dropped feature, every warning, and each reference check with its deviation stated plainly;
for an illustrative layer a large deviation is expected and says so instead of being hidden.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from layers.catalog import ReferenceCheck

REPORT_FILE = "build_report.json"
ILLUSTRATIVE_NOTE = "illustrative layer: a large deviation from the published figure is expected"
MAX_LISTED = 8


class LayerReport(BaseModel):
    """One layer's build record."""

    model_config = ConfigDict(extra="forbid")

    id: str
    region: str
    kind: str
    accuracy: str
    outcome: Literal["built", "unchanged"] = "built"
    source_file: str
    features_in: int
    features_out: int
    repairs: list[dict[str, str]] = Field(default_factory=list)
    drops: list[dict[str, str]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    derivation: str | None = None
    reference: ReferenceCheck | None = None
    version: str | None = None
    fingerprint: str | None = None
    seconds: float = 0.0


class BuildReport(BaseModel):
    """The whole build."""

    model_config = ConfigDict(extra="forbid")

    manifests: list[str] = Field(default_factory=list)
    layers: list[LayerReport] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list, description="layers of the previous build not built now")
    seconds: float = 0.0

    @property
    def built(self) -> int:
        return sum(1 for lr in self.layers if lr.outcome == "built")

    def write(self, folder: Path) -> Path:
        path = folder / REPORT_FILE
        path.write_text(
            json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return path


def reference_check(expected: float, actual: float, metric: str, accuracy: str,
                    source: str | None, note: str | None) -> ReferenceCheck:
    """Compare a built figure with the published one; illustrative layers get an explicit note.

    >>> reference_check(100.0, 90.0, "area_km2", "approximate", None, None).deviation_pct
    -10.0
    """
    deviation = round((actual - expected) / expected * 100.0, 2)
    notes = [n for n in (note, ILLUSTRATIVE_NOTE if accuracy == "illustrative" else None) if n]
    return ReferenceCheck(
        metric=metric,  # type: ignore[arg-type]
        expected=expected,
        actual=round(actual, 3),
        deviation_pct=deviation,
        source=source,
        note="; ".join(notes) or None,
    )


def print_report(report: BuildReport, console: Console | None = None) -> None:
    """Readable report: one summary row per layer, then the details that need a human's eye."""
    console = console or make_console()
    table = Table(title=f"zoning build: {report.built} built, {len(report.layers) - report.built} unchanged, "
                  f"{report.seconds:.1f} s")
    for col in ("layer", "kind", "accuracy", "in", "out", "repaired", "dropped", "warn", "reference check"):
        numeric = col in {"in", "out", "repaired", "dropped", "warn"}
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col != "reference check")
    for lr in report.layers:
        table.add_row(
            escape(lr.id + ("" if lr.outcome == "built" else " (unchanged)")),
            lr.kind,
            lr.accuracy,
            str(lr.features_in),
            str(lr.features_out),
            str(len(lr.repairs)),
            str(len(lr.drops)),
            str(len(lr.warnings)),
            _reference_text(lr),
        )
    console.print(table)
    if report.removed:
        console.print(
            f"removed from the catalog (not in the manifests built): {', '.join(report.removed)}",
            style="bold yellow", highlight=False, markup=False,
        )
    for lr in report.layers:
        lines = _details(lr)
        if lines:
            console.print(f"[bold]{lr.id}[/bold]")
            for line in lines:
                console.print(f"  {line}", highlight=False, markup=False)


def make_console() -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped to a file."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _reference_text(lr: LayerReport) -> str:
    ref = lr.reference
    if ref is None or ref.deviation_pct is None:
        return ""
    text = f"{ref.metric} {ref.actual:,.6g} vs {ref.expected:,.6g} ({ref.deviation_pct:+.1f} %)"
    if lr.accuracy == "illustrative":
        text += " [illustrative: large deviation expected]"
    return escape(text)


def _details(lr: LayerReport) -> list[str]:
    lines: list[str] = []
    for r in lr.repairs[:MAX_LISTED]:
        lines.append(f"repaired feature {r['feature_id']}: {r['detail']}")
    if len(lr.repairs) > MAX_LISTED:
        lines.append(f"… and {len(lr.repairs) - MAX_LISTED} more repairs (see build_report.json)")
    for r in lr.drops[:MAX_LISTED]:
        lines.append(f"dropped feature {r['feature_id']}: {r['detail']}")
    if len(lr.drops) > MAX_LISTED:
        lines.append(f"… and {len(lr.drops) - MAX_LISTED} more drops (see build_report.json)")
    lines += [f"warning: {w}" for w in lr.warnings]
    lines += [f"note: {n}" for n in lr.notes]
    if lr.reference is not None:
        ref = lr.reference
        lines.append(
            f"reference: expected {ref.expected:,.6g} {ref.metric}, built {ref.actual:,.6g} "
            f"({ref.deviation_pct:+.2f} %)" + (f"; source {ref.source}" if ref.source else "")
            + (f"; {ref.note}" if ref.note else "")
        )
    if lr.derivation and lr.outcome == "built":
        lines.append(f"derivation: {lr.derivation}")
    return lines
