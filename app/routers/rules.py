"""``GET /v1/rules`` and ``GET /v1/project-types``: the rulebook and the project taxonomy.

Both are dumps the rulebook produces itself (``Rulebook.listing``, ``Taxonomy.listing``); this
module only exposes its filters as query parameters and types the responses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from app.deps import StateDep
from app.schemas import ProjectTypesResponse, RulesResponse
from zoning.errors import DataUnavailableError, UnknownProjectTypeError

router = APIRouter(prefix="/v1", tags=["rules"])


def _rulebook(state: StateDep) -> Any:
    if state.rulebook is None:
        problems = "; ".join(state.problems) or "not loaded"
        raise DataUnavailableError(
            f"the rulebook is not available: {problems}",
            hint="fix the rule files (see /healthz), then POST /v1/admin/reload",
        )
    return state.rulebook


@contextmanager
def _query_field(name: str) -> Iterator[None]:
    """The taxonomy names body fields (``project.type``); here the input is a query parameter."""
    try:
        yield
    except UnknownProjectTypeError as exc:
        if exc.field and exc.field.startswith("project."):
            exc.field = name
        raise


def _types(
    taxonomy: Any, q: str | None, group: str | None, geometry: str | None, code: str | None
) -> Any:
    with _query_field("code"):
        return taxonomy.listing(q=q, group=group, geometry=geometry, code=code)


@router.get("/rules", response_model=RulesResponse, summary="The rulebook (filterable)")
def rules(
    state: StateDep,
    kind: Annotated[str | None, Query(description="layer kind the rule reads")] = None,
    effect: Annotated[
        Literal["prohibited", "restricted", "caution", "permitted_exception"] | None,
        Query(description="the rule's effect or one of its exceptions' effects"),
    ] = None,
    type: Annotated[
        str | None, Query(description="project type id the rule concerns (any-project rules too)")
    ] = None,
    q: Annotated[str | None, Query(description="text in id, titles or explanations")] = None,
    family: Annotated[str | None, Query(description="rule file family, e.g. red_line")] = None,
    as_of: Annotated[date | None, Query(description="only rules in force on that date")] = None,
) -> dict[str, Any]:
    rulebook = _rulebook(state)
    with _query_field("type"):
        listing = rulebook.listing(
            kind=kind, effect=effect, type=type, q=q, family=family, as_of=as_of
        )
    return {**rulebook.summary(), "rules": listing}


@router.get("/project-types", response_model=ProjectTypesResponse, summary="The project taxonomy")
def project_types(
    state: StateDep,
    q: Annotated[str | None, Query(description="text in id, names or aliases")] = None,
    group: Annotated[str | None, Query(description="keep members of this group")] = None,
    geometry: Annotated[
        Literal["linear", "areal", "point"] | None, Query(description="site geometry of the type")
    ] = None,
    code: Annotated[
        str | None, Query(description="GB/T 4754 industry code: keep the type it resolves to")
    ] = None,
) -> dict[str, Any]:
    rulebook = _rulebook(state)
    taxonomy = rulebook.taxonomy
    return {
        "version": taxonomy.version,
        "rulebook": rulebook.version,
        "types": _types(taxonomy, q, group, geometry, code),
        "groups": taxonomy.groups_listing(),
    }
