"""Writing processed layers: GeoParquet for vectors, Cloud Optimized GeoTIFF for rasters.

Why so strict about bytes: a layer's ``version`` is the sha256 of its file, and screening results
quote it. Same input must give the same bytes, so the writers fix the compression, keep the row
order, write no index and no timestamps, and the tests compare two builds byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.transform import array_bounds
from rasterio.warp import calculate_default_transform, reproject

from layers.readers import RasterSource

STORAGE_CRS = CRS.from_epsg(4490)
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 9, "index": False, "schema_version": "1.1.0"}
COG_OPTIONS = {"COMPRESS": "DEFLATE", "LEVEL": "9", "BLOCKSIZE": "512", "NUM_THREADS": "1", "BIGTIFF": "NO"}
#: geographic CRSs whose difference from CGCS2000 (< 1 m) is far below any raster cell we ship.
RELABEL_AS_CGCS2000 = (4326, 4490, 4610, 4214)


def write_geoparquet(frame: gpd.GeoDataFrame, path: Path | BinaryIO, **options: object) -> None:
    """One GeoParquet file; ``frame`` must already be in EPSG:4490 and in final row order.

    ``options`` override ``PARQUET_OPTIONS`` (files read on every start may trade size for speed).
    """
    frame = frame.reset_index(drop=True)
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, write_covering_bbox=False, **{**PARQUET_OPTIONS, **options})  # type: ignore[arg-type]


def write_cog(raster: RasterSource, path: Path, notes: list[str]) -> tuple[float, float, float, float]:
    """Write ``raster`` as a COG in EPSG:4490 (warped when needed); returns its lon/lat bounds."""
    data, transform = raster.data, raster.transform
    epsg = raster.crs.to_epsg()
    if epsg not in RELABEL_AS_CGCS2000:
        data, transform = _warp(raster)
        notes.append(f"raster reprojected from {_name(raster.crs)} to EPSG:4490")
    elif epsg != 4490:
        notes.append(f"raster labelled EPSG:4490 (from EPSG:{epsg}; datum shift < 1 m, below the cell size)")
    height, width = data.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": data.dtype.name,
        "crs": rasterio.crs.CRS.from_epsg(4490),
        "transform": transform,
        "nodata": raster.nodata,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with MemoryFile() as mem:
        with mem.open(**profile) as tmp:
            tmp.write(data, 1)
        with mem.open() as src:
            rasterio.shutil.copy(src, path, driver="COG", **COG_OPTIONS)
    with rasterio.open(path) as ds:
        b = ds.bounds
    return (b.left, b.bottom, b.right, b.top)


def _warp(raster: RasterSource) -> tuple[np.ndarray, rasterio.Affine]:
    height, width = raster.data.shape
    src_crs = rasterio.crs.CRS.from_wkt(raster.crs.to_wkt())
    dst = rasterio.crs.CRS.from_epsg(4490)
    left, bottom, right, top = array_bounds(height, width, raster.transform)
    transform, w, h = calculate_default_transform(
        src_crs, dst, width, height, left=left, bottom=bottom, right=right, top=top
    )
    out = np.full((h, w), raster.nodata if raster.nodata is not None else 0, dtype=raster.data.dtype)
    # Continuous values (elevation) interpolate; classes must not be blended.
    method = Resampling.bilinear if np.issubdtype(raster.data.dtype, np.floating) else Resampling.nearest
    reproject(
        raster.data, out, src_transform=raster.transform, src_crs=src_crs, src_nodata=raster.nodata,
        dst_transform=transform, dst_crs=dst, dst_nodata=raster.nodata, resampling=method, num_threads=1,
    )
    return out, transform


def _name(crs: CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name
