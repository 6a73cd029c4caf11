"""One mapping from exception classes to HTTP error responses.

Why one table: every route raises domain errors (``ZoningError`` subclasses carry their own
status, code, field and hint) or lets library errors escape; this module is the only place that
turns them into the JSON body ``{"code", "detail", "field", "hint"}``. Routes never build error
responses themselves, so a new error class needs one line here and nowhere else.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layers.errors import CatalogError, LayerError
from zoning.errors import ZoningError

log = logging.getLogger("zoning.app")


class AccessDeniedError(ZoningError):
    """The layer is restricted (or the endpoint is admin-only) and no valid token was sent."""

    status_code = 403
    code = "forbidden"


class UnauthorizedError(ZoningError):
    """An admin endpoint was called without a bearer token, or with a wrong one."""

    status_code = 401
    code = "unauthorized"


class InvalidParameterError(ZoningError):
    """A query parameter has a value the service cannot use (bad bbox, unknown CRS, ...)."""

    status_code = 400
    code = "invalid_parameter"


class UnprocessableParameterError(InvalidParameterError):
    """A parameter is well formed but names something unsupported (format, CRS) — 422."""

    status_code = 422


class NotFoundError(ZoningError):
    """A feature or other resource addressed by the path does not exist."""

    status_code = 404
    code = "not_found"


class ReloadFailedError(ZoningError):
    """A reload could not build new state; the old data keeps being served."""

    status_code = 409
    code = "reload_failed"


def error_body(
    code: str, detail: str, field: str | None = None, hint: str | None = None
) -> dict[str, str | None]:
    """The single error body shape of the service."""
    return {"code": code, "detail": detail, "field": field, "hint": hint}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _zoning_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ZoningError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if exc.status_code >= 500:
        log.error("%s: %s", exc.code, exc.detail)
    return _json(exc.status_code, exc.to_dict(), headers)


async def _catalog_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("data problem: %s", exc)
    return _json(
        503,
        error_body("data_unavailable", str(exc), None, "rebuild the data with `zoning build`"),
    )


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


_VALIDATION_HINTS = {
    "missing": "add the field",
    "extra_forbidden": "remove the field; see /docs for the accepted fields",
    "json_invalid": "send valid JSON (check quotes, commas and brackets)",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
}


#: OGC API – Features requires 400 for any invalid query parameter value (Part 1,
#: /req/core/query-param-invalid); elsewhere a well-formed request with bad values is a 422.
OGC_PREFIX = "/ogc"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
    first: dict[str, Any] = (
        errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    )
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        where = f" at position {first['loc'][-1]}" if len(first.get("loc", ())) > 1 else ""
        return _json(
            400,
            error_body(
                "invalid_json",
                f"the request body is not valid JSON{where}: {ctx.get('error', first['msg'])}",
                "body",
                _VALIDATION_HINTS["json_invalid"],
            ),
        )
    field = _loc_to_field(first.get("loc", ()))
    detail = f"{field}: {first['msg']}" if field else str(first["msg"])
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    hint = _VALIDATION_HINTS.get(kind, "see /docs for the request schema")
    status = 400 if request.url.path.startswith(OGC_PREFIX) else 422
    return _json(status, error_body("invalid_request", detail, field, hint))


_HTTP_CODES = {
    404: ("not_found", "check the path; see /docs or /ogc for the available endpoints"),
    405: ("method_not_allowed", "check the HTTP method; see /docs"),
    406: ("not_acceptable", "ask for application/json or text/html"),
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, hint = _HTTP_CODES.get(exc.status_code, ("http_error", None))
    return _json(
        exc.status_code, error_body(code, str(exc.detail), None, hint), dict(exc.headers or {})
    )


_DISK_FULL_TEXT = ("no space left on device", "database or disk is full", "disk full")


def is_disk_full(exc: BaseException | None) -> bool:
    """True if ``exc`` or an exception it was raised from reports a full disk or quota.

    Why text as well as errno: SQLite (job store) and GDAL (pyogrio writers) report a full disk
    in their own exception types, with the reason only in the message.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(t in str(exc).lower() for t in _DISK_FULL_TEXT):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_disk_full(exc):
        log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
        return _json(
            507,
            error_body(
                "insufficient_storage",
                "the server ran out of disk space while writing; nothing partial was kept",
                None,
                "retry later; operators must free space in the temp and state folders",
            ),
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        500,
        error_body(
            "internal_error",
            "the service failed on this request; it has been logged",
            None,
            "retry later or report the request to the operators",
        ),
    )


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]

#: Exception class -> handler. Order matters only for documentation; Starlette picks the most
#: specific class through the MRO.
EXCEPTION_HANDLERS: dict[type[Exception], Handler] = {
    ZoningError: _zoning_error,
    CatalogError: _catalog_error,
    LayerError: _catalog_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    Exception: _unexpected,
}


#: JSON schema of ``error_body``: what every 4xx/5xx of the service really carries.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["code", "detail", "field", "hint"],
    "properties": {
        "code": {"type": "string", "description": "machine-readable error code"},
        "detail": {"type": "string", "description": "what is wrong"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "input at fault"},
        "hint": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "how to fix it"},
    },
}


DEFAULT_ERROR_RESPONSE: dict[str, Any] = {
    "description": "error: JSON `{code, detail, field, hint}`",
    "content": {"application/json": {"schema": ERROR_SCHEMA}},
}


def document_error_body(app: FastAPI) -> None:
    """Make /openapi.json describe validation errors as they are sent (``ERROR_SCHEMA``).

    FastAPI documents every 422 as its own ``HTTPValidationError`` list, but ``_validation_error``
    answers ``{code, detail, field, hint}``; clients generated from the schema (and the fuzz
    test's schema check) must see the real shape.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = ERROR_SCHEMA
            schemas.pop("ValidationError", None)
        # Any status an operation does not list (404 for an unknown id, 400 for OGC parameters,
        # 413, 503 ...) still comes with the one error body: say so once, as `default`.
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"].setdefault("default", DEFAULT_ERROR_RESPONSE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_exception_handlers(
    app: FastAPI, mapping: dict[type[Exception], Handler] | None = None
) -> None:
    """Register every handler of ``mapping`` (default: ``EXCEPTION_HANDLERS``) on ``app``."""
    for exc_class, handler in (mapping or EXCEPTION_HANDLERS).items():
        app.add_exception_handler(exc_class, handler)


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, with or without ``Content-Length``.

    Why an ASGI middleware and not a dependency: a chunked upload has no length header, so the
    limit must be enforced while the body streams in, before FastAPI buffers it for parsing.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_paths: tuple[str, ...] = (), max_upload_bytes: int = 0
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # File uploads (batch jobs, site files) have their own, larger limit: a 50 MB project
        # list is normal, a 50 MB JSON geometry is not.
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes or max_bytes

    def _limit_for(self, scope: Scope) -> tuple[int, str, str]:
        path = scope.get("path", "")
        if self.upload_paths and path.startswith(self.upload_paths):
            return (
                self.max_upload_bytes,
                "file",
                "split the file, or ask the operator to raise ZONING_MAX_UPLOAD_BYTES",
            )
        return (
            self.max_bytes,
            "body",
            "simplify the geometry or send fewer vertices; operators can raise ZONING_MAX_BODY_BYTES",
        )

    def _too_large(self, scope: Scope, declared: int | None = None) -> JSONResponse:
        limit, field, hint = self._limit_for(scope)
        size = f" ({declared} bytes)" if declared is not None else ""
        return _json(
            413,
            error_body("too_large", f"the request body{size} exceeds the limit of {limit} bytes", field, hint),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > self._limit_for(scope)[0]:
                    await self._too_large(scope, declared)(scope, receive, send)
                    return
        limit = self._limit_for(scope)[0]
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once the limit is passed, whatever the app answers (often a 400 "error parsing the
            # body", since FastAPI wraps receive errors) is replaced by the 413 below.
            if not exceeded:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            await self._too_large(scope)(scope, receive, send)


class _BodyTooLarge(Exception):
    """Internal signal from the receive wrapper; never escapes the middleware."""
