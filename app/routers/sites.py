"""``POST /v1/sites/parse``: turn an uploaded GIS file into one site geometry (for the web map).

The web page uploads GeoJSON, KML or a zipped Shapefile; the server reads it with pyogrio (the
browser cannot read a GBK shapefile in a Gauss–Krüger zone) and answers the site as GeoJSON in
lon/lat, ready to be drawn and sent to ``POST /v1/screen``.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyogrio
import shapely
from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from app.deps import SettingsDep
from app.uploads import UploadError, spooled_upload
from zoning.crs import parse_crs, to_storage
from zoning.errors import TooLargeError

router = APIRouter(prefix="/v1/sites", tags=["screening"])


class ParsedSite(BaseModel):
    geometry: dict[str, Any] = Field(
        description="the features' union as GeoJSON, EPSG:4326 lon/lat"
    )
    feature_count: int
    source_crs: str | None = Field(description="CRS read from the file (or the one you declared)")
    warnings: list[str] = Field(default_factory=list)


@router.post("/parse", response_model=ParsedSite, summary="Read an uploaded GIS file as one site")
def parse_site_file(
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="GeoJSON, KML, zipped Shapefile, GeoPackage or FlatGeobuf")
    ],
    crs: Annotated[
        str | None, Form(description="CRS if the file has none (e.g. EPSG:4521)")
    ] = None,
) -> ParsedSite:
    warnings: list[str] = []
    with spooled_upload(
        file, settings.max_upload_bytes, settings.state_dir if settings.state_dir.exists() else None
    ) as path:
        try:
            frame = pyogrio.read_dataframe(path)
        except Exception as exc:  # GDAL reports unreadable files through several exception types
            raise UploadError(
                f"cannot read {path.name}: {str(exc).splitlines()[0][:200]}",
                field="file",
                hint="send GeoJSON, KML, a zipped Shapefile (.shp/.shx/.dbf/.prj), GeoPackage or FlatGeobuf",
            ) from exc
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise UploadError(
            "the file has no geometry", field="file", hint="check that the layer has features"
        )
    declared = parse_crs(crs) if crs else None
    if declared is not None and declared.crs is None:
        # GCJ02 / BD09 are not CRSs pyproj knows: convert the coordinates with the engine.
        frame = frame.set_crs(None, allow_override=True)
        frame = frame.set_geometry(
            [to_storage(g, declared) for g in frame.geometry.values], crs="EPSG:4490"
        )
    elif declared is not None:
        frame = frame.set_crs(declared.crs, allow_override=True)
    elif frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
        warnings.append("the file declares no CRS; read as EPSG:4326 lon/lat")
    source = frame.crs.to_string() if frame.crs is not None else None
    geoms = frame.to_crs("EPSG:4326").geometry.values
    vertices = int(shapely.get_num_coordinates(geoms).sum())
    if vertices > settings.max_vertices:
        raise TooLargeError(
            f"the file has {vertices:,} vertices (limit {settings.max_vertices:,})",
            field="file",
            hint="simplify the site, or screen the features as a batch",
        )
    union = shapely.union_all(shapely.make_valid(geoms)) if len(geoms) > 1 else geoms[0]
    if len(geoms) > 1:
        warnings.append(f"{len(geoms)} features were merged into one site")
    return ParsedSite(
        geometry=shapely.geometry.mapping(union),
        feature_count=len(geoms),
        source_crs=source,
        warnings=warnings,
    )
