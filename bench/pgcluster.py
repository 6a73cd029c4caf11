"""A throwaway PostgreSQL/PostGIS cluster on 127.0.0.1, in a temporary folder, on a free port.

Why its own cluster: the benchmark must not touch any packaged cluster or another engineer's
database, and must leave nothing behind. ``initdb`` refuses to run as root, so when we are root
the cluster is created and run as the ``postgres`` system user (the Debian package creates it);
it is stopped with SIGINT ("fast shutdown") to its own postmaster pid, never by name.

Settings follow the usual advice for a disposable analytic database: no fsync, no synchronous
commit, generous ``work_mem`` / ``maintenance_work_mem`` for GiST builds and hash joins.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "1GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "max_parallel_workers_per_gather": "2",
    # PostGIS functions carry high costs, which makes the planner JIT-compile short joins; the
    # compile took 4 of 4.5 s on a 20,000-point batch here, so JIT is off (common PostGIS advice).
    "jit": "off",
}


def pg_bin() -> Path | None:
    """Folder of the PostgreSQL server binaries, or ``None`` when the server is not installed."""
    for cand in PG_BIN_CANDIDATES:
        if (Path(cand) / "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    """A TCP port that is free on loopback right now (the OS picks it, so never the default)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """Context manager: ``with Cluster() as pg: psycopg.connect(pg.dsn)``."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        binary = pg_bin()
        if binary is None:
            raise RuntimeError(
                "PostgreSQL server not installed: apt-get install postgresql-15-postgis-3"
            )
        self.bin = binary
        self.settings = {**SETTINGS, **(settings or {})}
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout}")

    def start(self) -> Cluster:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        for _attempt in range(5):  # the port can be taken between free_port() and start
            self.port = free_port()
            opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
            opts += f" -p {self.port} -c unix_socket_directories={self.root}"
            try:
                self._run(
                    self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log",
                    "-o", opts, "-w", "-t", "60", "start",
                )  # fmt: skip
                break
            except RuntimeError:
                if _attempt == 4:
                    raise
        self._psql("CREATE EXTENSION IF NOT EXISTS postgis")
        return self

    def _psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql)

    def postmaster_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    def server_pids(self) -> list[int]:
        """The postmaster and its children (backends, workers) — for memory accounting."""
        root = self.postmaster_pid()
        if root is None:
            return []
        pids = [root]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == root:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)
                for _ in range(1200):  # fast shutdown can take long on a loaded machine
                    os.kill(pid, 0)
                    time.sleep(0.1)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_high_water_kb(pids: list[int]) -> int:
    """Sum of ``VmHWM`` (peak resident set) of the given processes, in kB.

    Shared buffers touched by several backends are counted once per process, so for PostgreSQL
    this over-states the true peak; the benchmark note says so.
    """
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_seconds(pids: list[int], reaped_children_of: int | None = None) -> float:
    """CPU time (user + system) used so far by ``pids``, plus, for ``reaped_children_of``, the
    CPU of its children that already exited (PostgreSQL's parallel workers are short-lived
    children of the postmaster: their time lands in its ``cutime``/``cstime``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
        total += int(fields[11]) + int(fields[12])
        if pid == reaped_children_of:
            total += int(fields[13]) + int(fields[14])
    return total / tick
