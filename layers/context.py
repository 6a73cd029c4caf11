"""State one build shares between its layers (kept tiny: imported by every build, no-op or not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LAYERS_DIR = "layers"
COVERAGE_DIR = "coverage"


@dataclass
class LayerContext:
    """The build's temporary output folder and the coverage files already written (by source)."""

    work: Path
    coverage: dict[str, tuple[str, str]] = field(default_factory=dict)
