"""Geometry repair: make invalid geometries valid, keep the kind's geometry family, drop empties.

Why report every change: a screening verdict can hinge on one polygon. If a bow-tie red-line
polygon is split in two, or a sliver disappears, the GIS officer must be able to see which feature
changed and how, so each repair and each drop is returned as a record with the feature id.
All steps are vectorised Shapely 2 calls over the whole layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import shapely

#: shapely type ids of each family (Point=0, LineString=1, LinearRing=2, Polygon=3,
#: MultiPoint=4, MultiLineString=5, MultiPolygon=6, GeometryCollection=7)
FAMILY_TYPES: dict[str, tuple[int, ...]] = {
    "polygon": (3, 6),
    "line": (1, 2, 5),
    "point": (0, 4),
}
COLLECTION = 7
TYPE_NAMES = {
    0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
    5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection",
}


@dataclass(frozen=True)
class RepairRecord:
    """One change to one feature: ``action`` is ``repaired`` or ``dropped``."""

    feature_id: str
    action: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def repair_geometries(
    geoms: np.ndarray, feature_ids: np.ndarray, family: str
) -> tuple[np.ndarray, np.ndarray, list[RepairRecord]]:
    """Repair ``geoms`` for a layer of ``family`` (polygon | line | point | any).

    Returns ``(geometries, keep_mask, records)``: the repaired geometries (same length as the
    input), which rows survive, and a record per repaired or dropped feature, in row order.

    >>> bowtie = shapely.from_wkt("POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))")
    >>> out, keep, recs = repair_geometries(np.array([bowtie]), np.array(["1"]), "polygon")
    >>> out[0].geom_type, bool(keep[0]), recs[0].action
    ('MultiPolygon', True, 'repaired')
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    ids = np.asarray(feature_ids).astype(str)
    notes: dict[int, list[str]] = {}
    drops: dict[int, str] = {}

    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        drops[int(i)] = "no geometry (null)"
    present = ~missing
    has_z = np.zeros(len(geoms), dtype=bool)
    has_z[present] = shapely.has_z(geoms[present])
    geoms[has_z] = shapely.force_2d(geoms[has_z])

    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[present] = ~shapely.is_valid(geoms[present])
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        for i, reason in zip(np.flatnonzero(invalid), reasons, strict=True):
            notes.setdefault(int(i), []).append(f"made valid ({reason})")

    if family in FAMILY_TYPES:
        geoms, changed, dropped_types = _keep_family(geoms, present, FAMILY_TYPES[family])
        for i in np.flatnonzero(changed):
            discarded = dropped_types.get(int(i))
            notes.setdefault(int(i), []).append(
                f"kept the {family} part, discarded {', '.join(sorted(discarded))}"
                if discarded
                else f"regrouped a collection as a multi-{family}"
            )

    empty = np.zeros(len(geoms), dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    for i in np.flatnonzero(empty):
        if int(i) in notes:
            drops[int(i)] = f"nothing {family} left after repair ({'; '.join(notes.pop(int(i)))})"
        else:
            drops[int(i)] = "empty geometry"

    keep = ~(missing | empty)
    rows = [(i, RepairRecord(str(ids[i]), "repaired", "; ".join(n))) for i, n in notes.items()]
    rows += [(i, RepairRecord(str(ids[i]), "dropped", why)) for i, why in drops.items()]
    rows.sort(key=lambda pair: pair[0])
    return geoms, keep, [record for _, record in rows]


def _keep_family(
    geoms: np.ndarray, present: np.ndarray, wanted: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, dict[int, set[str]]]:
    """Reduce mixed geometries (typically make_valid's collections) to the wanted family.

    Rows already of the family are untouched; others are exploded (twice, for collections of
    multi-parts), filtered by type and reassembled into one multi-geometry per row.
    """
    types = np.full(len(geoms), -1)
    types[present] = shapely.get_type_id(geoms[present])
    mixed = present & ~np.isin(types, wanted)
    dropped_types: dict[int, set[str]] = {}
    if not mixed.any():
        return geoms, mixed, dropped_types
    rows = np.flatnonzero(mixed)
    parts, idx = shapely.get_parts(geoms[rows], return_index=True)
    parts2, idx2 = shapely.get_parts(parts, return_index=True)
    owner = idx[idx2]  # position within `rows`
    part_types = shapely.get_type_id(parts2)
    good = np.isin(part_types, wanted) & ~shapely.is_empty(parts2)
    for pos, t in zip(owner[~good], part_types[~good], strict=True):
        dropped_types.setdefault(int(rows[pos]), set()).add(TYPE_NAMES.get(int(t), str(t)))
    family = wanted[0]
    rebuilt = np.full(len(rows), _EMPTY[family], dtype=object)
    if good.any():
        uniq, compact = np.unique(owner[good], return_inverse=True)
        rebuilt[uniq] = _COLLECT[family](parts2[good], indices=compact)
    geoms[rows] = rebuilt
    return geoms, mixed, dropped_types


_COLLECT = {3: shapely.multipolygons, 1: shapely.multilinestrings, 0: shapely.multipoints}
_EMPTY = {
    3: shapely.from_wkt("MULTIPOLYGON EMPTY"),
    1: shapely.from_wkt("MULTILINESTRING EMPTY"),
    0: shapely.from_wkt("MULTIPOINT EMPTY"),
}
