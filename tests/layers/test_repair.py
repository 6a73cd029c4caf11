"""Geometry repair: every repair and drop is reported with the feature id."""

from __future__ import annotations

import numpy as np
import shapely

from layers.repair import repair_geometries


def _run(wkts: list[str | None], family: str = "polygon"):
    geoms = np.array([shapely.from_wkt(w) if w else None for w in wkts], dtype=object)
    ids = np.array([f"f{i}" for i in range(len(wkts))])
    return repair_geometries(geoms, ids, family)


def test_bowtie_becomes_two_triangles_and_is_reported() -> None:
    out, keep, records = _run(["POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))", "POLYGON ((0 0, 1 0, 1 1, 0 0))"])
    assert keep.tolist() == [True, True]
    assert out[0].geom_type == "MultiPolygon" and shapely.is_valid(out[0])
    assert abs(out[0].area - 2.0) < 1e-12
    assert [(r.feature_id, r.action) for r in records] == [("f0", "repaired")]
    assert "Self-intersection" in records[0].detail


def test_empty_null_and_wrong_family_are_dropped_with_reasons() -> None:
    _, keep, records = _run(["POLYGON EMPTY", None, "LINESTRING (0 0, 1 1)", "POLYGON ((0 0, 1 0, 1 1, 0 0))"])
    assert keep.tolist() == [False, False, False, True]
    got = {r.feature_id: r.detail for r in records if r.action == "dropped"}
    assert got["f0"] == "empty geometry"
    assert got["f1"] == "no geometry (null)"
    assert "discarded LineString" in got["f2"]


def test_collapsed_polygon_keeps_only_polygonal_part() -> None:
    # A polygon with a dangling spike: make_valid yields a collection of a polygon and a line.
    spiky = "POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0, -1 -1, 0 0))"
    out, keep, records = _run([spiky])
    assert keep[0]
    assert shapely.get_type_id(out[0]) in (3, 6)
    assert abs(out[0].area - 4.0) < 1e-12
    assert records and records[0].action == "repaired"


def test_lines_keep_line_parts_and_z_is_dropped() -> None:
    out, keep, records = _run(["LINESTRING Z (0 0 5, 1 1 5)", "LINESTRING EMPTY"], family="line")
    assert keep.tolist() == [True, False]
    assert not shapely.has_z(out[0])
    assert [r.action for r in records] == ["dropped"]


def test_valid_input_is_untouched() -> None:
    square = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"
    out, keep, records = _run([square])
    assert records == [] and keep.all()
    assert shapely.equals(out[0], shapely.from_wkt(square))
