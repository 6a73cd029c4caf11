"""Loading processed layers (GeoParquet / COG) through the catalog."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
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


def load_pieces(
    data_dir: Path | str, entry: CatalogEntry
) -> tuple[NDArray[np.object_], NDArray[np.intp]] | None:
    """The layer's stored pieces and the feature row of each (``layers.subdivide``).

    None when the build wrote no pieces file (no feature needed cutting, or an older build).
    """
    if not entry.pieces:
        return None
    path = Path(data_dir) / entry.pieces
    gdf = _read(path, entry, "pieces ")
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    return geoms, gdf["row"].to_numpy(dtype=np.intp)


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
        table = pq.read_table(path)
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
