"""Loading processed layers (GeoParquet / COG) through the catalog."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from layers.catalog import Catalog, CatalogEntry, read_catalog, verify_catalog, verify_file
from layers.errors import CatalogError
from layers.outlines import Outlines

STORAGE_CRS = "EPSG:4490"


def load_vector(data_dir: Path | str, entry: CatalogEntry) -> gpd.GeoDataFrame:
    """Read one vector layer; errors name the layer and the file."""
    path = Path(data_dir) / entry.path
    if entry.geometry_type == "raster":
        raise CatalogError(f"layer '{entry.id}' is a raster; open {path} with rasterio")
    gdf = _read(path, entry, "")
    if gdf.crs is None or gdf.crs.to_epsg() != 4490:
        gdf = gdf.set_crs(STORAGE_CRS, allow_override=True)
    return gdf


def load_vector_table(
    data_dir: Path | str, entry: CatalogEntry
) -> tuple[pd.DataFrame, NDArray[np.int32], Callable[[], Any]] | None:
    """One vector layer's attributes, the geometry type of each feature, and a function that
    reads its geometries as WKB (an Arrow binary array), not yet decoded; None when the file
    stores them otherwise (then use ``load_vector``).

    Why: reading and decoding a province's red-line features is seconds of start-up, and a
    point batch never touches them (it screens their stored pieces). Where the file's metadata
    names one geometry type and no geometry is missing, not even the WKB is read until asked
    for; it is then checked against the catalog again, as at start-up.
    """
    path = Path(data_dir) / entry.path
    try:
        parquet = pq.ParquetFile(path)
        meta = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}"))
        name = meta.get("primary_column", "geometry")
        if not pa.types.is_binary(parquet.schema_arrow.field(name).type):
            return None
        declared = meta.get("columns", {}).get(name, {}).get("geometry_types") or []
        at = parquet.schema_arrow.get_field_index(name)
        stats = [parquet.metadata.row_group(i).column(at).statistics
                 for i in range(parquet.metadata.num_row_groups)]
        columns = [c for c in parquet.schema_arrow.names if c != name]
        attrs = parquet.read(columns=columns).to_pandas()
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise CatalogError(f"layer '{entry.id}': cannot read {path}: {exc}") from exc
    one_type = _type_id(declared[0]) if len(declared) == 1 else None
    no_nulls = all(st is not None and st.has_null_count and st.null_count == 0 for st in stats)

    def read_wkb() -> Any:
        verify_file(Path(data_dir), entry, entry.path, entry.version)
        try:
            return pq.read_table(path, columns=[name]).column(name).combine_chunks()
        except Exception as exc:
            raise CatalogError(f"layer '{entry.id}': cannot read {path}: {exc}") from exc

    if one_type is not None and no_nulls:
        return attrs, np.full(len(attrs), one_type, dtype=np.int32), read_wkb
    wkb = read_wkb()
    return attrs, wkb_type_ids(wkb), lambda: wkb


def _type_id(name: str) -> int | None:
    """Shapely's type id of a GeoParquet geometry type name ("Polygon"; None for "Polygon Z" and
    unknown names: the WKB headers are read then)."""
    found = shapely.GeometryType.__members__.get(name.upper())
    return int(found) if found is not None else None


def wkb_type_ids(wkb: Any) -> NDArray[np.int32]:
    """Shapely's geometry type id of each WKB value of an Arrow binary array, from its header
    alone (-1 where null): no geometry is decoded. ISO (Z/M: +1000s) and EWKB (flag bits) codes
    are both read."""
    n = len(wkb)
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32)[wkb.offset : wkb.offset + n + 1]
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
    valid = np.asarray(wkb.is_valid(), dtype=bool) & (np.diff(offsets) >= 5)
    start = offsets[:-1][valid]
    b = [data[start + k].astype(np.uint32) for k in range(5)]
    little = b[0] == 1
    code = np.where(little, b[1] | b[2] << 8 | b[3] << 16 | b[4] << 24,
                    b[4] | b[3] << 8 | b[2] << 16 | b[1] << 24)
    code = (code & 0xFFFF) % 1000
    # WKB 1 Point, 2 LineString, 3 Polygon, 4-7 Multi*/Collection → shapely 0, 1, 3, 4-7
    to_shapely = np.array([-1, 0, 1, 3, 4, 5, 6, 7, -1, -1], dtype=np.int32)
    out = np.full(n, -1, dtype=np.int32)
    out[valid] = to_shapely[np.minimum(code, 9)]
    return out


def load_pieces(
    data_dir: Path | str, entry: CatalogEntry
) -> tuple[NDArray[np.object_], NDArray[np.intp]] | None:
    """The layer's stored pieces and the feature row of each (``layers.subdivide``).

    None when the build wrote no pieces file (no feature needed cutting, or an older build).
    """
    if not entry.pieces:
        return None
    path = Path(data_dir) / entry.pieces
    try:
        return _decode_in_batches(pq.ParquetFile(path))
    except _NotWkb:
        gdf = _read(path, entry, "pieces ")
        return np.asarray(gdf.geometry.values, dtype=object), gdf["row"].to_numpy(dtype=np.intp)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise CatalogError(f"layer '{entry.id}': cannot read pieces {path}: {exc}") from exc


class _NotWkb(Exception):
    """The file's geometry is not WKB (a GeoArrow encoding): geopandas reads it."""


PIECE_BATCH_ROWS = 8192


def _decode_in_batches(
    parquet: pq.ParquetFile,
) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """A GeoParquet file's geometries and ``row`` column, decoded a batch of rows at a time.

    Why not ``geopandas.read_parquet``: that holds the file's whole WKB column and the decoded
    geometries at once. A province's red-line pieces are ≈ 280 MB of WKB, so decoding batch by
    batch (the same few megabytes of buffers reused) peaked 650 MB lower and, on a machine
    where touching new memory is slow, loaded in half the time.
    """
    metadata = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}"))
    column = metadata.get("primary_column", "geometry")
    if metadata.get("columns", {}).get(column, {}).get("encoding", "WKB").upper() != "WKB":
        raise _NotWkb
    geoms, rows = [], []
    for batch in parquet.iter_batches(batch_size=PIECE_BATCH_ROWS, columns=["row", column]):
        wkb = batch.column(column).to_numpy(zero_copy_only=False)
        geoms.append(shapely.from_wkb(wkb))
        rows.append(batch.column("row").to_numpy(zero_copy_only=False).astype(np.intp))
    if not geoms:
        return np.empty(0, dtype=object), np.zeros(0, dtype=np.intp)
    return np.concatenate(geoms), np.concatenate(rows)


def load_outlines(data_dir: Path | str, entry: CatalogEntry) -> Outlines | None:
    """The layer's stored outlines (``layers.outlines``, in their plane, with the feature row of
    each run); None when the build wrote none. Checked against the catalog here, not at start-up
    (``verify_catalog`` leaves them out: the service never reads them).

    Coordinates stored as GeoArrow are taken as they are; WKB (runs of mixed types, or an
    older build) is decoded.
    """
    if not entry.outlines or not entry.outlines_version:
        return None
    verify_file(Path(data_dir), entry, entry.outlines, entry.outlines_version)
    path = Path(data_dir) / entry.outlines
    try:
        if path.suffix == ".parquet":  # written by builds before the Arrow IPC file
            table = pq.read_table(path)
        else:  # mapped: the coordinates are used where they lie in the file
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        column = table.column("geometry").combine_chunks()
        row = table.column("row").to_numpy().astype(np.intp)
        if pa.types.is_list(column.type):  # GeoArrow lines: a list of {x, y} per run
            offsets = column.offsets.to_numpy().astype(np.int64)
            return Outlines(*_xy(column.flatten()), offsets - offsets[0], row)
        if pa.types.is_struct(column.type):  # GeoArrow points
            return Outlines(*_xy(column), np.arange(len(column) + 1, dtype=np.int64), row)
        runs = shapely.from_wkb(column.to_numpy(zero_copy_only=False))
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise CatalogError(f"layer '{entry.id}': cannot read outlines {path}: {exc}") from exc
    return Outlines.from_geometries(runs, row)


def _xy(coords: pa.StructArray) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """x and y of GeoArrow coordinates, without a copy."""
    return coords.field("x").to_numpy(), coords.field("y").to_numpy()


def load_coverage(data_dir: Path | str, entry: CatalogEntry) -> BaseGeometry | None:
    """The polygon where ``entry`` is known to be complete, or ``None`` (complete everywhere)."""
    if not entry.coverage:
        return None
    path = Path(data_dir) / entry.coverage
    return _read(path, entry, "coverage ").geometry.union_all()


def _read(path: Path, entry: CatalogEntry, what: str) -> gpd.GeoDataFrame:
    """One GeoParquet file of a layer; a damaged or missing file names the layer and the file."""
    try:
        return gpd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise CatalogError(f"layer '{entry.id}': cannot read {what}{path}: {exc}") from exc


def open_catalog(data_dir: Path | str, verify: bool = True) -> Catalog:
    """Read the catalog and (by default) verify every file's checksum."""
    catalog = read_catalog(data_dir)
    return verify_catalog(data_dir, catalog) if verify else catalog
