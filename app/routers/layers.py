"""``GET /v1/layers`` and ``GET /v1/layers/{layer_id}``: the catalog, as ``zoning layers --json``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import StateDep, get_layer
from layers.catalog import CatalogEntry

router = APIRouter(prefix="/v1/layers", tags=["layers"])


@router.get("", response_model=list[CatalogEntry], summary="The layer catalog")
def list_layers(state: StateDep) -> list[CatalogEntry]:
    """Every layer (restricted ones too: they are screened against, only not downloadable)."""
    return list(state.catalog.layers)


@router.get("/{layer_id}", response_model=CatalogEntry, summary="One catalog entry")
def get_one(entry: Annotated[CatalogEntry, Depends(get_layer)]) -> CatalogEntry:
    return entry
