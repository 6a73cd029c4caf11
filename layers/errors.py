"""Errors raised while reading manifests, building and loading processed layers."""

from __future__ import annotations


class LayerError(Exception):
    """Base class for data-pack problems; the message names the layer and file."""


class ManifestError(LayerError):
    """A manifest is missing, malformed or inconsistent."""


class SourceReadError(LayerError):
    """A layer's source file cannot be read; the build stops and keeps the previous output."""

    def __init__(self, layer: str, path: str, cause: str) -> None:
        super().__init__(f"layer '{layer}': cannot read {path}: {cause}")
        self.layer = layer
        self.path = path
        self.cause = cause


class CatalogError(LayerError):
    """The processed catalog is missing, corrupt, or a file fails its checksum."""


class SourceDataError(LayerError):
    """A layer's source was read but its content contradicts the manifest (missing field, bad CRS …)."""

    def __init__(self, layer: str, field: str, cause: str) -> None:
        super().__init__(f"layer '{layer}': field '{field}': {cause}")
        self.layer = layer
        self.field = field
        self.cause = cause
