"""Settings shared by the CLI and the service (environment prefix ``ZONING_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class ZoningSettings(BaseSettings):
    """Where data lives and the request limits; every field can be set as ``ZONING_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ZONING_", extra="ignore")

    data_dir: Path = REPO_ROOT / "data" / "processed"
    raw_dir: Path = REPO_ROOT / "data" / "raw"
    state_dir: Path = REPO_ROOT / "data" / "state"
    max_vertices: int = 100_000
    max_body_bytes: int = 20 * 1024 * 1024
    max_batch_rows: int = 5_000_000
    max_upload_bytes: int = 200 * 1024 * 1024
    admin_token: str | None = None
    download_token: str | None = None
    cors_origins: list[str] = []
    tile_url: str | None = None
    # True: a failed or partial start-up load (bad checksum, unreadable file, no rulebook) stops
    # the process with the reason instead of serving degraded. `zoning serve` turns it on.
    strict_startup: bool = False
    #: Folder with project_types.yaml, rulebook.yaml and rules/*.yaml (default: the packaged rules).
    rules_dir: Path | None = None
    # Seconds between checks of <state_dir>/reload.generation (multi-worker reload); 0 = off.
    reload_poll_seconds: float = 2.0
