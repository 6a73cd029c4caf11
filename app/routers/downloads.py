"""``GET /v1/layers/{layer_id}/download``: whole layers as GeoJSON, GeoPackage, FlatGeobuf, SHP.

GeoJSON (RFC 7946: CRS84 lon/lat only) is streamed feature chunk by feature chunk so a large
layer is never one string in memory. The other formats are written by pyogrio (GDAL) to a
temporary folder, streamed from disk, and deleted when the response is done. File formats keep
GIS axis order (easting/longitude first) whatever the CRS: that is what every desktop GIS expects
in a file, unlike OGC API Part 2 responses.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import orjson
import pyogrio
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from app.deps import SettingsDep, StateDep, get_layer, require_access
from app.errors import UnprocessableParameterError
from app.ogc.crs import CRS84_URI, OutputCRS, offered_crs, parse_crs
from app.ogc.features import iter_feature_chunks
from layers.catalog import CatalogEntry

router = APIRouter(prefix="/v1/layers", tags=["downloads"])


class DownloadFormat(StrEnum):
    geojson = "geojson"
    gpkg = "gpkg"
    fgb = "fgb"
    shp = "shp"


#: Below this much free space in the temp folder a failed write is reported as a full disk.
_MIN_FREE_BYTES = 8 * 1024 * 1024

#: format → (GDAL driver, file extension of the download, media type)
_FORMATS: dict[DownloadFormat, tuple[str, str, str]] = {
    DownloadFormat.geojson: ("GeoJSON", "geojson", "application/geo+json"),
    DownloadFormat.gpkg: ("GPKG", "gpkg", "application/geopackage+sqlite3"),
    DownloadFormat.fgb: ("FlatGeobuf", "fgb", "application/octet-stream"),
    DownloadFormat.shp: ("ESRI Shapefile", "zip", "application/zip"),
}


def download_name(entry: CatalogEntry, fmt: DownloadFormat, crs_label: str) -> str:
    """``<layer>_<12 hex of version>_<crs>.<ext>``: two downloads differ iff their names do."""
    digest = entry.version.split(":", 1)[-1][:12]
    return f"{entry.id}_{digest}_{crs_label}.{_FORMATS[fmt][1]}"


def _resolve_crs(
    value: str | None, entry: CatalogEntry, fmt: DownloadFormat
) -> tuple[OutputCRS, str]:
    if fmt is DownloadFormat.geojson:
        if value is not None and parse_crs(value).crs.to_epsg() not in (4326, None):
            raise UnprocessableParameterError(
                f"crs: GeoJSON (RFC 7946) is always WGS 84 lon/lat; {value} is not possible",
                field="crs",
                hint="omit crs or use EPSG:4326 for GeoJSON; use format=gpkg, fgb or shp for "
                "EPSG:4490 or Gauss–Krüger coordinates",
            )
        return parse_crs(CRS84_URI), "CRS84"
    target = parse_crs(value or "EPSG:4490")
    allowed = offered_crs(entry.bbox)
    if target.uri not in allowed:
        codes = ", ".join(u.rsplit("/", 1)[-1] for u in allowed[1:])
        raise UnprocessableParameterError(
            f"crs: {value} is not offered for layer '{entry.id}'",
            field="crs",
            hint=f"use EPSG:{codes.replace(', ', ', EPSG:')}",
        )
    epsg = target.crs.to_epsg()
    return target, f"EPSG{epsg}"


def _stream_geojson(
    entry: CatalogEntry, gdf: gpd.GeoDataFrame, target: OutputCRS
) -> Iterator[bytes]:
    head = {"type": "FeatureCollection", "name": entry.id, "version": entry.version}
    yield orjson.dumps(head)[:-1] + b',"features":[\n'
    first = True
    for chunk in iter_feature_chunks(gdf, target, chunk_size=1000):
        if not chunk:
            continue
        yield (b"" if first else b",\n") + chunk.encode()
        first = False
    yield b"\n]}\n"


def _write_file(
    gdf: gpd.GeoDataFrame, entry: CatalogEntry, fmt: DownloadFormat, epsg: int
) -> tuple[Path, Path]:
    """Write ``gdf`` in ``fmt`` to a fresh temp dir; returns (file to send, dir to delete)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"zoning-dl-{entry.id}-"))
    try:
        out = gdf.to_crs(epsg=epsg) if gdf.crs is None or gdf.crs.to_epsg() != epsg else gdf
        driver, ext, _ = _FORMATS[fmt]
        if fmt is DownloadFormat.shp:
            shp_dir = tmp / entry.id
            shp_dir.mkdir()
            pyogrio.write_dataframe(
                out, shp_dir / f"{entry.id}.shp", driver=driver, encoding="UTF-8"
            )
            cpg = shp_dir / f"{entry.id}.cpg"
            if not cpg.exists():  # GDAL writes it for UTF-8; make sure readers see the encoding
                cpg.write_text("UTF-8", encoding="ascii")
            target = tmp / f"{entry.id}.zip"
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(shp_dir.iterdir()):
                    zf.write(part, arcname=part.name)
            return target, tmp
        target = tmp / f"{entry.id}.{ext}"
        pyogrio.write_dataframe(out, target, driver=driver, layer=entry.id)
        return target, tmp
    except Exception as exc:
        # GDAL often reports a full disk as a follow-on error ("no such table: gpkg_contents");
        # the free space tells the truth, and app.errors turns ENOSPC into a 507.
        low_space = shutil.disk_usage(tmp).free < _MIN_FREE_BYTES
        shutil.rmtree(tmp, ignore_errors=True)
        if low_space:
            raise OSError(errno.ENOSPC, f"no space left on device writing {entry.id}") from exc
        raise


@router.get(
    "/{layer_id}/download",
    summary="Download a whole layer",
    responses={
        200: {
            "description": "the layer file (Content-Disposition carries layer id and version)",
            "content": {mt: {} for _, _, mt in _FORMATS.values()},
        },
        403: {"description": "restricted layer and no valid download token"},
    },
)
def download(
    entry: Annotated[CatalogEntry, Depends(get_layer)],
    state: StateDep,
    settings: SettingsDep,
    format: Annotated[
        DownloadFormat, Query(description="geojson (streamed, RFC 7946), gpkg, fgb or shp (zip)")
    ] = DownloadFormat.geojson,
    crs: Annotated[
        str | None,
        Query(
            description="output CRS, e.g. EPSG:4490 (default for files), EPSG:4326 or a CGCS2000 "
            "Gauss–Krüger zone covering the layer; GeoJSON is always WGS 84"
        ),
    ] = None,
    authorization: Annotated[
        str | None, Header(description="`Bearer <token>` for restricted layers")
    ] = None,
) -> Response:
    require_access(entry, settings, authorization)
    gdf = state.frame(entry.id)
    target, label = _resolve_crs(crs, entry, format)
    name = download_name(entry, format, label)
    media_type = _FORMATS[format][2]
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Layer-Version": entry.version,
    }
    if format is DownloadFormat.geojson:
        return StreamingResponse(
            _stream_geojson(entry, gdf, target), media_type=media_type, headers=headers
        )
    epsg = target.crs.to_epsg() or 4490
    path, tmp = _write_file(gdf, entry, format, epsg)
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )
