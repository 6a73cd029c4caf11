"""OGC API – Features (Part 1 Core, GeoJSON, HTML; Part 2 CRS) at ``/ogc``.

Thin: parameters are parsed here, selection is ``app.ogc.query``, serialisation is
``app.ogc.features`` and the documents are ``app.ogc.documents``. Restricted layers are listed
but their items need the download token; rasters are not feature collections and are not listed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.deps import SettingsDep, StateDep, require_access
from app.errors import InvalidParameterError, NotFoundError, UnprocessableParameterError
from app.ogc import documents as docs
from app.ogc.crs import CRS84_URI, OutputCRS, offered_crs, parse_crs
from app.ogc.features import feature_strings
from app.ogc.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    parse_bbox,
    parse_datetime,
    queryables,
    select,
)
from layers.catalog import CatalogEntry

TEMPLATES = Jinja2Templates(directory=str(FilePath(__file__).resolve().parent.parent / "templates"))

#: Every OGC resource answers JSON or, on `f=html` / `Accept: text/html`, an HTML page.
_NEGOTIATED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/geo+json": {}, "text/html": {}}}
}
router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], responses=_NEGOTIATED)

FormatParam = Annotated[
    str | None,
    Query(
        alias="f",
        description="response format: json (GeoJSON for items) or html; default from Accept",
        pattern="^(json|geojson|html)$",
    ),
]
CollectionId = Annotated[str, Path(alias="collectionId", description="collection id (= layer id)")]
FeatureId = Annotated[str, Path(alias="featureId", description="feature id (feature_id column)")]

#: Query parameters with a meaning of their own; anything else must be a property filter.
_KNOWN_PARAMS = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime"}


def _wants_html(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    if not accept or "text/html" not in accept:
        return False
    # Browsers send text/html first; GDAL/OWSLib send JSON types.
    return accept.index("text/html") < min(
        (accept.index(t) for t in ("json",) if t in accept), default=len(accept)
    )


def _base(request: Request) -> str:
    return str(request.url_for("ogc_landing")).rstrip("/")


def _json(
    body: Any, media_type: str = docs.JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), media_type=media_type, headers=headers)


def _html(
    request: Request,
    title: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HTMLResponse:
    pretty = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    context = {"title": title, "doc": body, "pretty": pretty, **extra}
    return TEMPLATES.TemplateResponse(request, "ogc.html", context, headers=headers)


def _vector_entry(state: StateDep, collection_id: str) -> CatalogEntry:
    entry = state.catalog.get(collection_id)
    if entry is None or entry.geometry_type == "raster":
        known = ", ".join(e.id for e in state.catalog.layers if e.geometry_type != "raster")
        raise NotFoundError(
            f"no feature collection '{collection_id}'"
            + (" (it is a raster layer)" if entry is not None else ""),
            field="collectionId",
            hint=f"use one of: {known or 'none'} (GET /ogc/collections)",
        )
    return entry


@router.get("", name="ogc_landing", summary="Landing page")
def landing(request: Request, f: FormatParam = None) -> Response:
    base = _base(request)
    body = docs.landing(base, str(request.url_for("openapi")), str(request.url_for("swagger_ui")))
    if _wants_html(request, f):
        return _html(request, body["title"], body)
    return _json(body)


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request, f: FormatParam = None) -> Response:
    body = docs.conformance()
    if _wants_html(request, f):
        return _html(request, "Conformance", body)
    return _json(body)


@router.get("/collections", summary="Feature collections (one per vector layer)")
def collections(request: Request, state: StateDep, f: FormatParam = None) -> Response:
    body = docs.collections(state.catalog.layers, _base(request))
    if _wants_html(request, f):
        return _html(request, "Collections", body, collections=body["collections"])
    return _json(body)


@router.get("/collections/{collectionId}", summary="One feature collection")
def collection(
    request: Request,
    state: StateDep,
    collection_id: CollectionId,
    f: FormatParam = None,
) -> Response:
    entry = _vector_entry(state, collection_id)
    body = docs.collection(entry, _base(request))
    if _wants_html(request, f):
        return _html(request, entry.title, body)
    return _json(body)


@router.get("/collections/{collectionId}/queryables", summary="Properties usable as filters")
def queryables_doc(
    request: Request, state: StateDep, collection_id: CollectionId, f: FormatParam = None
) -> Response:
    """JSON Schema of the ``?column=value`` filters the items endpoint accepts (exact match)."""
    entry = _vector_entry(state, collection_id)
    gdf = state.frames[entry.id]
    body = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{_base(request)}/collections/{entry.id}/queryables",
        "type": "object",
        "title": entry.title,
        "properties": {name: {"title": name, "type": "string"} for name in queryables(gdf)},
        "additionalProperties": False,
    }
    if _wants_html(request, f):
        return _html(request, f"{entry.title}: queryables", body)
    return _json(body, "application/schema+json")


def _check_params(request: Request, allowed_props: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in _KNOWN_PARAMS:
            continue
        if key not in allowed_props:
            raise InvalidParameterError(
                f"unknown query parameter '{key}'",
                field=key,
                hint="use bbox, bbox-crs, crs, limit, offset, datetime, f or a property filter: "
                + ", ".join(allowed_props),
            )
        props[key] = value
    return props


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    description="GeoJSON FeatureCollection, paged with limit/offset and next/prev links. "
    "Property filters: any queryable column as `?name=value` (exact match), e.g. "
    "`?zone_class=core`. " + docs.TEMPORAL_NOTE,
    responses={200: {"content": {docs.GEOJSON: {}, docs.HTML: {}}}},
)
def items(
    request: Request,
    state: StateDep,
    settings: SettingsDep,
    collection_id: CollectionId,
    f: FormatParam = None,
    bbox: Annotated[
        str | None,
        Query(description="minx,miny,maxx,maxy in bbox-crs (axis order of that CRS)"),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(alias="bbox-crs", description=f"CRS of bbox (default {CRS84_URI})"),
    ] = None,
    crs: Annotated[
        str | None,
        Query(description="output CRS URI; one of the collection's crs list (default CRS84)"),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            description="features per page (values above 10000 are cut to 10000)",
            # Documented maximum, so clients (GDAL's OAPIF driver) pick large pages; larger
            # values are still accepted and cut, as Part 1 allows.
            json_schema_extra={"maximum": MAX_LIMIT},
        ),
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="features to skip")] = 0,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="RFC 3339 date/date-time or interval a/b (.. = open)"),
    ] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    entry = _vector_entry(state, collection_id)
    require_access(entry, settings, authorization)
    gdf = state.frames[entry.id]
    props = _check_params(request, queryables(gdf))
    target = _output_crs(crs, entry)
    box_crs = _output_crs(bbox_crs, entry, field="bbox-crs") if bbox_crs else None
    limit = min(limit, MAX_LIMIT)
    selection = select(
        gdf,
        entry,
        bbox=parse_bbox(bbox) if bbox else None,
        bbox_crs=box_crs,
        interval=parse_datetime(datetime_) if datetime_ else None,
        properties=props,
        offset=offset,
        limit=limit,
    )
    page = gdf.iloc[selection.rows]
    features = feature_strings(page, target)
    links = _page_links(request, selection.matched, offset, limit, len(features))
    headers = {"Content-Crs": f"<{target.uri}>"}
    if _wants_html(request, f):
        rows = [orjson.loads(s) for s in features]
        body = {"numberMatched": selection.matched, "numberReturned": len(features), "links": links}
        return _html(request, f"{entry.title}: features", body, features=rows, headers=headers)
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": selection.matched,
            "numberReturned": len(features),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "links": links,
        }
    )
    text = head[:-1] + b',"features":[' + ",".join(features).encode() + b"]}"
    return Response(text, media_type=docs.GEOJSON, headers=headers)


def _output_crs(value: str | None, entry: CatalogEntry, field: str = "crs") -> OutputCRS:
    if value is None:
        return parse_crs(CRS84_URI)
    try:
        parsed = parse_crs(value, field)
    except UnprocessableParameterError as exc:  # OGC wants 400 for any unusable value
        raise InvalidParameterError(exc.detail, field=exc.field, hint=exc.hint) from exc
    if parsed.uri not in offered_crs(entry.bbox):
        raise InvalidParameterError(
            f"{field}: {parsed.uri} is not offered for '{entry.id}'",
            field=field,
            hint="use one of the collection's crs list: " + ", ".join(offered_crs(entry.bbox)),
        )
    return parsed


def _page_links(
    request: Request, matched: int, offset: int, limit: int, returned: int
) -> list[dict[str, str]]:
    url = request.url
    links = [
        docs.link(str(url.include_query_params(f="json")), "self", docs.GEOJSON, "this page"),
        docs.link(str(url.include_query_params(f="html")), "alternate", docs.HTML, "as HTML"),
    ]
    if offset + returned < matched:
        nxt = url.include_query_params(offset=offset + limit, limit=limit)
        links.append(docs.link(str(nxt), "next", docs.GEOJSON, "next page"))
    if offset > 0:
        prev = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(docs.link(str(prev), "prev", docs.GEOJSON, "previous page"))
    return links


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    responses={200: {"content": {docs.GEOJSON: {}, docs.HTML: {}}}},
)
def item(
    request: Request,
    state: StateDep,
    settings: SettingsDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    f: FormatParam = None,
    crs: Annotated[str | None, Query(description="output CRS URI (default CRS84)")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    entry = _vector_entry(state, collection_id)
    require_access(entry, settings, authorization)
    gdf = state.frames[entry.id]
    rows = (gdf["feature_id"] == feature_id).to_numpy().nonzero()[0]
    if rows.size == 0:
        raise NotFoundError(
            f"no feature '{feature_id}' in '{entry.id}'",
            field="featureId",
            hint=f"list the ids with /ogc/collections/{entry.id}/items",
        )
    target = _output_crs(crs, entry)
    feature = orjson.loads(feature_strings(gdf.iloc[rows[:1]], target)[0])
    base = _base(request)
    feature["links"] = [
        docs.link(str(request.url.include_query_params(f="json")), "self", docs.GEOJSON),
        docs.link(str(request.url.include_query_params(f="html")), "alternate", docs.HTML),
        docs.link(f"{base}/collections/{entry.id}?f=json", "collection", docs.JSON),
    ]
    headers = {"Content-Crs": f"<{target.uri}>"}
    if _wants_html(request, f):
        return _html(
            request, f"{entry.title}: {feature_id}", feature, features=[feature], headers=headers
        )
    return _json(feature, docs.GEOJSON, headers)
