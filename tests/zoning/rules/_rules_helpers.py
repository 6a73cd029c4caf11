"""Shared helpers for rulebook tests: the packaged rulebook and hand-built spatial results.

The evaluator consumes ``SpatialResult``; building one from plain ``Hit`` objects keeps these
tests independent of the engine and of any data pack.
"""

from __future__ import annotations

from typing import Any

from zoning.result import Hit, LayerCoverage, SpatialResult
from zoning.rules import Rulebook


def hit(kind: str, fid: str, *, d: float = 0.0, cls: str | None = None, name: str | None = None,
        **attrs: Any) -> Hit:
    """A hit on layer ``l_<kind>``; ``d`` > 0 makes it a within-buffer hit at that distance."""
    return Hit(
        layer=f"l_{kind}",
        layer_kind=kind,
        feature_id=fid,
        name=name,
        zone_class=cls,
        relation="intersects" if d == 0 else "within_buffer",
        distance_m=d,
        accuracy="illustrative",
        attributes=attrs,
    )


QINGHAI = hit("admin", "630000", cls="province", name="青海省", adcode="630000")
GUIZHOU = hit("admin", "520000", cls="province", name="贵州省", adcode="520000")


def spatial(rb: Rulebook, hits: list[Hit], *, no_data: tuple[str, ...] = (),
            absent: tuple[str, ...] = ()) -> SpatialResult:
    """Every layer kind the rulebook reads is loaded and covers the site, except ``no_data``
    (layer present, site outside its coverage) and ``absent`` (no layer of that kind)."""
    coverage = [
        LayerCoverage(layer=f"l_{k}", kind=k, status="no_data" if k in no_data else "covered")
        for k in sorted(rb.kinds)
        if k not in absent
    ]
    return SpatialResult(hits=hits, coverage=coverage)
