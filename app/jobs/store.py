"""Batch jobs persisted in SQLite (``settings.state_dir/batch/jobs.sqlite``).

Why SQLite: a server restart must lose nothing — queued jobs still run, finished results stay
downloadable, and a job that was running when the process died is found in state ``running`` at
start-up and resumed from its chunk parts (or failed with the reason after too many attempts).
SQLite needs no server, survives crashes (WAL journal) and is enough for one service process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

JobStatus = Literal["queued", "running", "completed", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    filename TEXT NOT NULL,
    input_path TEXT NOT NULL,
    options TEXT NOT NULL,
    rows_total INTEGER,
    rows_done INTEGER NOT NULL DEFAULT 0,
    error_rows INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
)
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    """One row of the ``jobs`` table."""

    id: str
    status: JobStatus
    filename: str
    input_path: str
    options: dict[str, Any]
    rows_total: int | None
    rows_done: int
    error_rows: int
    hits: int
    error: str | None
    attempts: int
    note: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class JobStore:
    """Thread-safe access to the jobs table (one connection per operation)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._conn() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        return Job(**data)

    def create(self, filename: str, input_path: str, options: dict[str, Any], rows_total: int | None,
               job_id: str | None = None) -> Job:
        job_id = job_id or uuid.uuid4().hex
        with self._lock, self._conn() as db:
            db.execute(
                "INSERT INTO jobs (id, status, filename, input_path, options, rows_total, created_at) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, filename, input_path, json.dumps(options), rows_total, now()),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._conn() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def update(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock, self._conn() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def claim_next(self) -> Job | None:
        """Atomically move the oldest queued job to ``running`` and return it."""
        with self._lock, self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, "
                "started_at = COALESCE(started_at, ?) WHERE id = ?",
                (now(), row["id"]),
            )
            db.execute("COMMIT")
        return self.get(row["id"])

    def recover(self, max_attempts: int) -> list[str]:
        """At start-up: jobs left ``running`` by a dead process are requeued (they resume from
        their parts) or, after ``max_attempts`` starts, failed with the reason. Returns their ids."""
        with self._lock, self._conn() as db:
            rows = db.execute("SELECT id, attempts FROM jobs WHERE status = 'running'").fetchall()
            for row in rows:
                if row["attempts"] >= max_attempts:
                    db.execute(
                        "UPDATE jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                        (now(), f"interrupted {row['attempts']} times by server restarts; giving up "
                         "(upload the file again, or split it)", row["id"]),
                    )
                else:
                    db.execute(
                        "UPDATE jobs SET status = 'queued', note = ? WHERE id = ?",
                        ("resumed after a server restart", row["id"]),
                    )
        return [r["id"] for r in rows]
