"""The JSON documents of OGC API – Features (landing, conformance, collections, links).

Why apart from the router: these are pure functions of the catalog and a base URL, so the shape
the clients (GDAL's OAPIF driver, OWSLib, QGIS) depend on is tested without a server.
"""

from __future__ import annotations

from typing import Any

from app.ogc.crs import CRS84_URI, STORAGE_URI, offered_crs
from app.ogc.query import DEFAULT_LIMIT, MAX_LIMIT, layer_interval
from layers.catalog import CatalogEntry

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"

TEMPORAL_NOTE = (
    "datetime selects features whose validity overlaps the instant or interval: feature "
    "valid_from/valid_to columns if present, else the layer's valid_from (or as_of) to valid_to."
)


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def landing(base: str, api_url: str, docs_url: str) -> dict[str, Any]:
    """The landing page: what GDAL's OAPIF driver reads first (conformance, data, service-desc)."""
    return {
        "title": "Ecological zoning layers (China)",
        "description": "Red lines, national parks, reserves, control units and other layers "
        "used for ecological zoning screening; storage CRS EPSG:4490 (CGCS2000).",
        "links": [
            link(f"{base}?f=json", "self", JSON, "this document"),
            link(f"{base}?f=html", "alternate", HTML, "this document as HTML"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(f"{base}/collections", "data", JSON, "feature collections"),
            link(api_url, "service-desc", "application/vnd.oai.openapi+json;version=3.0", "API"),
            link(docs_url, "service-doc", HTML, "API documentation"),
        ],
    }


def conformance() -> dict[str, list[str]]:
    return {"conformsTo": list(CONFORMANCE)}


def collection(entry: CatalogEntry, base: str) -> dict[str, Any]:
    """One collection document (also the entries of /collections)."""
    href = f"{base}/collections/{entry.id}"
    start, end = layer_interval(entry)
    extent: dict[str, Any] = {"spatial": {"bbox": [list(entry.bbox)], "crs": CRS84_URI}}
    if start or end:
        extent["temporal"] = {
            "interval": [[start.isoformat() if start else None, end.isoformat() if end else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    description = f"{entry.title} ({entry.kind}, {entry.region}); accuracy: {entry.accuracy}; "
    description += f"source: {entry.source}."
    if entry.access == "restricted":
        description += " Restricted: listed here, items need the download token."
    return {
        "id": entry.id,
        "title": entry.title,
        "description": description,
        "itemType": "feature",
        "extent": extent,
        "crs": offered_crs(entry.bbox),
        "storageCrs": STORAGE_URI,
        "links": [
            link(f"{href}?f=json", "self", JSON, "this collection"),
            link(f"{href}?f=html", "alternate", HTML, "this collection as HTML"),
            link(f"{href}/items?f=json", "items", GEOJSON, "items as GeoJSON"),
            link(f"{href}/items?f=html", "items", HTML, "items as HTML"),
            link(
                f"{href}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "filterable properties",
            ),
        ],
        # Non-standard members clients ignore; handy for people reading the JSON.
        "kind": entry.kind,
        "region": entry.region,
        "accuracy": entry.accuracy,
        "access": entry.access,
        "featureCount": entry.feature_count,
        "version": entry.version,
        "asOf": entry.as_of.isoformat() if entry.as_of else None,
        "defaultLimit": DEFAULT_LIMIT,
        "maxLimit": MAX_LIMIT,
    }


def collections(entries: list[CatalogEntry], base: str) -> dict[str, Any]:
    vectors = [e for e in entries if e.geometry_type != "raster"]
    return {
        "links": [
            link(f"{base}/collections?f=json", "self", JSON, "this document"),
            link(f"{base}/collections?f=html", "alternate", HTML, "this document as HTML"),
        ],
        "crs": sorted({uri for e in vectors for uri in offered_crs(e.bbox)}),
        "collections": [collection(e, base) for e in vectors],
    }
