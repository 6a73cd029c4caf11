"""Where a layer is known to be complete, and whether a site lies there.

Why: "nothing found" must never be confused with "nothing known". A layer declares its coverage
polygon (catalog ``coverage``; none means complete everywhere); a site outside it gets ``no_data``
for that layer and no hits from it. A site straddling the coverage edge is also ``no_data`` (the
uncovered part is unknown) but keeps the hits found in the covered part, with ``covered_share``
saying how much of the site is covered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shapely
from shapely.geometry.base import BaseGeometry

from zoning import measure
from zoning.result import LayerCoverage

if TYPE_CHECKING:
    from zoning.screen import SiteFrame


def layer_coverage(frame: SiteFrame, layer_id: str, coverage: BaseGeometry | None) -> LayerCoverage:
    """Coverage status of one layer for one site (``coverage`` is prepared at load)."""
    if coverage is None:
        return LayerCoverage(layer=layer_id, status="covered", covered_share=1.0)
    site = frame.site
    if coverage.contains(site.geometry):
        return LayerCoverage(layer=layer_id, status="covered", covered_share=1.0)
    if not coverage.intersects(site.geometry):
        return LayerCoverage(layer=layer_id, status="no_data", covered_share=0.0)
    return LayerCoverage(layer=layer_id, status="no_data", covered_share=covered_share(frame, coverage))


def covered_share(frame: SiteFrame, coverage: BaseGeometry) -> float:
    """Share of the site (by area, length or point count) inside ``coverage``."""
    site = frame.site
    piece = shapely.intersection(site.geometry, coverage)
    if site.is_polygonal and frame.area_local > 0:
        return min(1.0, float(measure.project(piece, frame.tr).area) / frame.area_local)
    if site.is_lineal and frame.length_local > 0:
        return min(1.0, float(measure.project(piece, frame.tr).length) / frame.length_local)
    total = shapely.get_num_geometries(site.geometry)
    return min(1.0, shapely.get_num_geometries(piece) / total) if total else 0.0
