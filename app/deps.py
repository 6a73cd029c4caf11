"""Service state (loaded once, swapped atomically on reload) and the dependencies that read it.

Why a single immutable ``ServiceState`` object: the catalog, the per-layer GeoDataFrames used by
OGC and downloads, the screening index and the rulebook must always come from the same build.
A reload builds a complete new state (checksums verified) and then replaces one attribute on
``app.state``; each request takes its reference to the state once, at its start, so requests in
flight finish on the data they started with and nobody ever sees half of a reload.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
from fastapi import Depends, Header, Request
from fastapi import Path as PathParam

from app.errors import AccessDeniedError, UnauthorizedError
from app.settings import ZoningSettings
from layers.catalog import Catalog, CatalogEntry
from layers.load import load_vector, open_catalog
from zoning.errors import DataUnavailableError, LayerNotFoundError

log = logging.getLogger("zoning.app")


@dataclass(frozen=True)
class ServiceState:
    """Everything the service answers from; never mutated after construction."""

    data_dir: Path
    catalog: Catalog
    frames: dict[str, gpd.GeoDataFrame]
    index: Any | None = None
    rulebook: Any | None = None
    rulebook_version: str | None = None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    problems: tuple[str, ...] = ()

    @property
    def data_version(self) -> str:
        """One hash over every layer version: changes whenever any layer file changes."""
        digest = hashlib.sha256()
        for entry in sorted(self.catalog.layers, key=lambda e: e.id):
            digest.update(f"{entry.id}={entry.version}\n".encode())
        return f"sha256:{digest.hexdigest()}"

    def entry(self, layer_id: str) -> CatalogEntry:
        found = self.catalog.get(layer_id)
        if found is None:
            known = ", ".join(sorted(e.id for e in self.catalog.layers)) or "none"
            raise LayerNotFoundError(
                f"no layer '{layer_id}' in the catalog",
                field="layer_id",
                hint=f"use one of: {known} (GET /v1/layers lists them)",
            )
        return found

    def frame(self, layer_id: str) -> gpd.GeoDataFrame:
        entry = self.entry(layer_id)
        if entry.geometry_type == "raster":
            raise LayerNotFoundError(
                f"layer '{layer_id}' is a raster, not a feature collection",
                field="layer_id",
                hint="rasters are used for screening only; pick a vector layer",
            )
        return self.frames[layer_id]


def _optional(module: str, name: str) -> Any | None:
    """An engine entry point if its module has landed, else ``None`` (service runs without it)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _rulebook_version(rulebook: Any) -> str | None:
    for attr in ("version", "rulebook_version"):
        value = getattr(rulebook, attr, None)
        if isinstance(value, str):
            return value
    return None


def build_state(settings: ZoningSettings, required: frozenset[str] = frozenset()) -> ServiceState:
    """Load and verify everything; raises (and changes nothing) if a required part is bad.

    The catalog and layer files are always required (checksums verified). The screening index
    and the rulebook are required when named in ``required``: at start-up a broken rulebook only
    disables screening (``/healthz`` says why) so the layers stay browsable, while a reload must
    not replace a working index or rulebook with none.
    """
    data_dir = Path(settings.data_dir)
    catalog = open_catalog(data_dir, verify=True)
    frames: dict[str, gpd.GeoDataFrame] = {}
    for entry in catalog.layers:
        if entry.geometry_type == "raster":
            continue
        gdf = load_vector(data_dir, entry)
        if "feature_id" in gdf.columns:
            gdf["feature_id"] = gdf["feature_id"].astype(str)
        else:
            gdf["feature_id"] = [str(i) for i in range(1, len(gdf) + 1)]
        gdf.sindex  # noqa: B018 - build the STRtree now, not on the first request
        frames[entry.id] = gdf
    problems: list[str] = []

    def optional_part(name: str, module: str, attr: str, call: Any) -> Any | None:
        entry_point = _optional(module, attr)
        if entry_point is None:
            problem = f"{name} ({module}.{attr}) is not installed"
        else:
            try:
                return call(entry_point)
            except Exception as exc:
                if name in required:
                    raise
                problem = f"{name} failed to load: {exc}"
        if name in required:
            raise DataUnavailableError(problem, hint="fix it, then reload again")
        log.warning("%s; continuing without it", problem)
        problems.append(problem)
        return None

    index = optional_part("index", "zoning.index", "LayerIndex", lambda cls: cls.load(data_dir))
    rules_dir = getattr(settings, "rules_dir", None)
    rulebook = optional_part("rulebook", "zoning.rules", "load_rulebook", lambda fn: fn(rules_dir))
    return ServiceState(
        data_dir=data_dir,
        catalog=catalog,
        frames=frames,
        index=index,
        rulebook=rulebook,
        rulebook_version=_rulebook_version(rulebook) if rulebook is not None else None,
        problems=tuple(problems),
    )


@dataclass
class ReloadStatus:
    """What the last reload did; shown by /healthz and returned by the admin endpoint."""

    ok: bool | None = None
    at: datetime | None = None
    error: str | None = None
    trigger: str | None = None


class StateHolder:
    """Owns the current ``ServiceState`` and serialises reloads (one at a time).

    With several uvicorn workers each process holds its own state. A successful reload writes a
    new token to ``<state_dir>/reload.generation``; every worker polls that file (see
    ``app.main``) and reloads itself when the token changes, so one admin call or one SIGHUP to
    any worker reloads them all, and each keeps its old data if its own reload fails.
    """

    def __init__(self, settings: ZoningSettings) -> None:
        self.settings = settings
        self._state: ServiceState | None = None
        self._load_error: str | None = None
        self._lock = threading.Lock()
        self._seen_generation: str | None = None
        self.last_reload = ReloadStatus()

    @property
    def state(self) -> ServiceState:
        current = self._state
        if current is None:
            raise DataUnavailableError(
                f"no processed data loaded from {self.settings.data_dir}: {self._load_error}",
                hint="run `zoning build`, then POST /v1/admin/reload or send SIGHUP",
            )
        return current

    @property
    def loaded(self) -> bool:
        return self._state is not None

    @property
    def load_error(self) -> str | None:
        return self._load_error

    @property
    def generation_path(self) -> Path:
        return Path(self.settings.state_dir) / "reload.generation"

    def _read_generation(self) -> str | None:
        try:
            return self.generation_path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def _announce(self, data_version: str) -> None:
        token = f"{uuid.uuid4().hex} {data_version}"
        try:
            self.generation_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.generation_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(token, encoding="utf-8")
            os.replace(tmp, self.generation_path)  # atomic: pollers never read half a token
            self._seen_generation = token
        except OSError as exc:
            log.warning("could not tell other workers about the reload: %s", exc)

    def initial_load(self) -> None:
        """Start-up load; a failure leaves the service up (healthz says why) instead of dead.

        With ``strict_startup`` a failure (or a state missing its index or rulebook) raises
        ``StartupRefused`` instead: a server that would answer from corrupt or partial data must
        not start at all.
        """
        self._seen_generation = self._read_generation()
        try:
            self._state = build_state(self.settings)
        except Exception as exc:
            self._load_error = str(exc)
            log.error("initial data load failed: %s", exc)
            if self.settings.strict_startup:
                raise StartupRefused(f"start-up refused: {exc}") from exc
            return
        if self.settings.strict_startup and self._state.problems:
            raise StartupRefused("start-up refused: " + "; ".join(self._state.problems))

    def reload(self, trigger: str, announce: bool = True) -> ReloadStatus:
        """Build a new state fully, then swap; on failure keep the old one and record why."""
        with self._lock:
            current = self._state
            required = frozenset(
                name
                for name, part in (
                    ("index", getattr(current, "index", None)),
                    ("rulebook", getattr(current, "rulebook", None)),
                )
                if part is not None
            )
            try:
                new_state = build_state(self.settings, required)
            except Exception as exc:
                log.error("reload (%s) failed, keeping the current data: %s", trigger, exc)
                self.last_reload = ReloadStatus(False, datetime.now(UTC), str(exc), trigger)
                return self.last_reload
            self._state = new_state  # one reference assignment: atomic for readers
            self._load_error = None
            self.last_reload = ReloadStatus(True, datetime.now(UTC), None, trigger)
            log.info("reloaded data (%s): %s", trigger, new_state.data_version)
            if announce:
                self._announce(new_state.data_version)
            return self.last_reload

    def reload_if_announced(self) -> ReloadStatus | None:
        """Reload when another worker announced a new generation since we last looked."""
        token = self._read_generation()
        if token is None or token == self._seen_generation:
            return None
        self._seen_generation = token  # once per announcement, even if our reload fails
        return self.reload("another worker reloaded", announce=False)


class StartupRefused(RuntimeError):
    """Strict start-up found bad data; the message names the file or part (see initial_load)."""


def get_holder(request: Request) -> StateHolder:
    holder: StateHolder = request.app.state.holder
    return holder


def get_settings(request: Request) -> ZoningSettings:
    settings: ZoningSettings = request.app.state.settings
    return settings


def get_state(holder: Annotated[StateHolder, Depends(get_holder)]) -> ServiceState:
    """The state for this request, taken once so a concurrent reload cannot split it."""
    return holder.state


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[ZoningSettings, Depends(get_settings)]


def get_layer(
    state: StateDep,
    layer_id: Annotated[str, PathParam(description="layer id from GET /v1/layers")],
) -> CatalogEntry:
    return state.entry(layer_id)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_matches(expected: str | None, authorization: str | None) -> bool:
    """Constant-time check of an ``Authorization: Bearer`` header against a configured token."""
    sent = _bearer(authorization)
    if not expected or sent is None:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def require_access(
    entry: CatalogEntry, settings: ZoningSettings, authorization: str | None
) -> None:
    """Restricted layers are screened against but only served to holders of the download token."""
    if entry.access != "restricted":
        return
    if token_matches(settings.download_token, authorization):
        return
    raise AccessDeniedError(
        f"layer '{entry.id}' is restricted: it is used for screening but not served",
        field="Authorization",
        hint="send `Authorization: Bearer <download token>` configured on the server "
        "(ZONING_DOWNLOAD_TOKEN)",
    )


def require_admin(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(description="Bearer <admin token>")] = None,
) -> None:
    if not settings.admin_token:
        raise AccessDeniedError(
            "admin endpoints are disabled: no admin token is configured",
            field="Authorization",
            hint="set ZONING_ADMIN_TOKEN on the server, or send SIGHUP to reload",
        )
    if not token_matches(settings.admin_token, authorization):
        raise UnauthorizedError(
            "missing or wrong admin token",
            field="Authorization",
            hint="send `Authorization: Bearer <ZONING_ADMIN_TOKEN>`",
        )
