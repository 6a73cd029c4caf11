"""Outlines as coordinate arrays (``layers.outlines.Outlines``) and the file ``zoning build``
writes them to: GeoArrow when the runs are of one type, WKB otherwise; both read back the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from layers.catalog import CatalogEntry
from layers.load import load_outlines
from layers.outlines import Outlines, Plane, make_outlines, write_outlines


def _runs() -> np.ndarray:
    return np.asarray([
        shapely.linestrings([(0.0, 0.0), (1.0, 0.0), (1.0, 2.0)]),
        shapely.points(5.0, 5.0),
        shapely.linestrings([(3.0, 3.0), (4.0, 4.0)]),
    ], dtype=object)


def test_outlines_keep_every_run_and_give_the_same_geometries_back() -> None:
    runs = _runs()
    outlines = Outlines.from_geometries(runs, np.array([7, 8, 9]))
    assert outlines.first.tolist() == [0, 3, 4, 6]
    assert shapely.equals_exact(outlines.geometries, runs, tolerance=0).all()
    picked = outlines.take(np.array([2, 1]))
    assert picked.row.tolist() == [9, 8]
    assert shapely.equals_exact(picked.geometries, runs[[2, 1]], tolerance=0).all()


def _entry(fields: dict[str, object]) -> CatalogEntry:
    return CatalogEntry.model_construct(id="t", **fields)


@pytest.mark.parametrize(("geoms", "encoding"), [
    # polygons → rings → lines only: GeoArrow
    (np.asarray([shapely.box(100.0, 30.0, 100.5, 30.4), shapely.box(101.0, 30.0, 101.2, 30.1)]),
     "geoarrow"),
    # points and a line: runs of two types, WKB
    (np.asarray([shapely.points(100.0, 30.0), shapely.linestrings([(100.0, 30.5), (100.3, 30.6)])]),
     "wkb"),
])
def test_outlines_written_by_the_build_read_back_as_made(
    tmp_path: Path, geoms: np.ndarray, encoding: str
) -> None:
    fields = write_outlines(geoms, tmp_path, "t")
    column = pa.ipc.open_file(str(tmp_path / str(fields["outlines"]))).schema.field("geometry")
    assert pa.types.is_binary(column.type) == (encoding == "wkb")
    read = load_outlines(tmp_path, _entry(fields))
    assert read is not None
    plane = Plane(str(fields["outlines_plane"]), 1.0)
    made = Outlines.from_geometries(*make_outlines(geoms, np.arange(len(geoms)), plane))
    assert np.array_equal(read.x, made.x)
    assert np.array_equal(read.y, made.y)
    assert np.array_equal(read.first, made.first)
    assert np.array_equal(read.row, made.row)


def test_outlines_of_an_older_build_in_parquet_still_read_the_same(tmp_path: Path) -> None:
    """Builds before the Arrow IPC file wrote the outlines as GeoParquet; those still load."""
    from layers.catalog import sha256_file

    geoms = np.asarray([shapely.box(100.0, 30.0, 100.5, 30.4), shapely.box(101.0, 30.0, 101.2, 30.1)])
    fields = write_outlines(geoms, tmp_path, "t")
    mapped = load_outlines(tmp_path, _entry(fields))
    table = pa.ipc.open_file(str(tmp_path / str(fields["outlines"]))).read_all()
    older = "layers/t.outlines.parquet"
    pq.write_table(table, tmp_path / older, compression="lz4")
    read = load_outlines(tmp_path, _entry({**fields, "outlines": older,
                                           "outlines_version": sha256_file(tmp_path / older)}))
    assert mapped is not None and read is not None
    for name in ("x", "y", "first", "row"):
        assert np.array_equal(getattr(read, name), getattr(mapped, name)), name
