"""Errors of the screening engine.

Each subclass carries the HTTP status it maps to, a stable machine code, the request field it
concerns and a hint that says how to fix the input. The core never raises ``HTTPException``; the
service and the CLI translate these.
"""

from __future__ import annotations


class ZoningError(Exception):
    """Base class: a problem with the caller's input or with the loaded data."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.hint = hint

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "detail": self.detail, "field": self.field, "hint": self.hint}


class InvalidGeometryError(ZoningError):
    """The site geometry cannot be parsed or is not usable (empty, NaN, wrong type)."""

    status_code = 422
    code = "invalid_geometry"


class TooLargeError(ZoningError):
    """The input exceeds a configured limit (vertices, rows, bytes)."""

    status_code = 413
    code = "too_large"


class CRSError(ZoningError):
    """Unknown CRS, or coordinates that do not fit the declared CRS (swapped, wrong zone)."""

    status_code = 422
    code = "invalid_crs"


class CoordinateMistakeError(CRSError):
    """A common coordinate mistake was detected (lat/lon swapped, metres as degrees, GK zone)."""

    code = "coordinate_mistake"


class UnknownProjectTypeError(ZoningError):
    """The project type or industry code is not in the taxonomy."""

    status_code = 422
    code = "unknown_project_type"


class LayerNotFoundError(ZoningError):
    """No layer with that id in the catalog."""

    status_code = 404
    code = "layer_not_found"


class DataUnavailableError(ZoningError):
    """Processed data is missing or fails its checksum."""

    status_code = 503
    code = "data_unavailable"


class RulebookError(ZoningError):
    """A rule or taxonomy file is invalid; start-up must stop."""

    status_code = 500
    code = "rulebook_invalid"
