"""Stored screening results (SQLite by default), so a result id in a filing can be re-opened.

Every ``POST /v1/screen`` result is kept with its request and the layer and rulebook versions it
used; a report rendered later therefore shows exactly what was screened, even after a data update.
One connection per call and WAL mode keep it safe under several uvicorn workers.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zoning.result import ScreeningResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    result_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    request_json TEXT NOT NULL,
    result_json TEXT NOT NULL,
    rulebook_version TEXT,
    layer_versions TEXT NOT NULL
)
"""


class ResultStore:
    """Append-only store of screening results keyed by ``result_id``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        # WAL + NORMAL: commits are atomic and survive a crash of the service; only a power cut
        # in the last moments can lose them. FULL would fsync on every screening request.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def save(
        self, result: ScreeningResult, request: dict[str, Any], result_json: str | None = None
    ) -> None:
        """Keep ``result`` (``result_json``: its JSON when the caller already has it)."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                (
                    result.result_id,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    json.dumps(request, ensure_ascii=False, default=str),
                    result_json if result_json is not None else result.model_dump_json(),
                    result.versions.rulebook,
                    json.dumps(result.versions.layers, sort_keys=True),
                ),
            )

    def get(self, result_id: str) -> tuple[ScreeningResult, dict[str, Any], str] | None:
        """The result, its request and when it was made; ``None`` if unknown."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT result_json, request_json, created_at FROM results WHERE result_id = ?",
                (result_id,),
            ).fetchone()
        if row is None:
            return None
        return ScreeningResult.model_validate_json(row[0]), json.loads(row[1]), row[2]
