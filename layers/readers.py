"""Reading layer sources: a registry of readers keyed by source type.

Why a registry: the build should not care whether a bureau ships a zipped Shapefile, a GeoPackage
or a GeoTIFF. The file suffix picks a source type, the type picks a reader, and every reader
returns the same thing with the manifest's ``crs`` and ``encoding`` already applied. Anything GDAL's
vector drivers open goes through pyogrio; GeoTIFF through rasterio. Every failure becomes a
``SourceReadError`` naming the layer, the file and the cause, so the build can stop cleanly.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from pyproj import CRS
from rasterio.crs import CRS as RioCRS

from layers.errors import SourceReadError
from layers.manifest import LayerSpec

#: file suffix -> source type; anything not listed is tried as an OGR source.
SOURCE_TYPES: dict[str, str] = {
    ".shp": "shapefile",
    ".zip": "zipped_shapefile",
    ".gpkg": "ogr",
    ".geojson": "ogr",
    ".json": "ogr",
    ".fgb": "ogr",
    ".kml": "ogr",
    ".kmz": "ogr",
    ".gdb": "ogr",
    ".gml": "ogr",
    ".tif": "geotiff",
    ".tiff": "geotiff",
}

#: formats whose text is UTF-8 by definition: a manifest `encoding:` would only garble it.
UTF8_ONLY = (".gpkg", ".fgb")

_HIGH_RUN = re.compile("[\x80-\xff]{4,}")

NO_CRS_FIX = "add `crs:` to the manifest entry (e.g. crs: EPSG:4521) or ship the .prj"


@dataclass
class VectorSource:
    """A vector source read into memory, in its own CRS (already overridden if the manifest says so)."""

    frame: gpd.GeoDataFrame
    file: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RasterSource:
    """A raster band read into memory with its georeferencing."""

    data: np.ndarray
    transform: rasterio.Affine
    crs: CRS
    nodata: float | None
    dtype: str
    file: str
    notes: list[str] = field(default_factory=list)


Reader = Callable[[LayerSpec], VectorSource | RasterSource]


def source_type(path: Path) -> str:
    """The source type of ``path`` by suffix (``ogr`` for unknown suffixes)."""
    return SOURCE_TYPES.get(path.suffix.lower(), "ogr")


def read_source(spec: LayerSpec) -> VectorSource | RasterSource:
    """Read the source of ``spec`` with the reader registered for its type."""
    if not spec.path.exists():
        raise SourceReadError(spec.id, str(spec.path), "file does not exist (check `path:` in the manifest)")
    return READERS[source_type(spec.path)](spec)


def _read_ogr_path(spec: LayerSpec, gdal_path: str, display: str, notes: list[str]) -> VectorSource:
    """Read any OGR source with pyogrio, choose the layer, then apply ``crs``."""
    try:
        layers = pyogrio.list_layers(gdal_path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends; all mean unreadable
        raise SourceReadError(spec.id, display, _cause(exc)) from exc
    spatial = [str(name) for name, geom in layers if geom is not None]
    if spec.layer is None and len(spatial) > 1:
        raise SourceReadError(
            spec.id, display, f"it holds several layers {spatial}; choose one with `layer:` in the manifest"
        )
    names = [str(name) for name, _ in layers]
    if spec.layer is not None and spec.layer not in names:
        raise SourceReadError(spec.id, display, f"no layer {spec.layer!r}; it holds {names}")
    layer = spec.layer or (spatial[0] if spatial else None)
    encoding = spec.encoding
    if encoding is not None and Path(display).suffix.lower() in UTF8_ONLY:
        notes.append(f"`encoding: {encoding}` ignored: {Path(display).suffix} files are always UTF-8")
        encoding = None
    try:
        frame = pyogrio.read_dataframe(gdal_path, layer=layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise SourceReadError(
            spec.id, display,
            f"attribute text is not valid {encoding or 'UTF-8'} ({exc.reason}); set `encoding:` "
            "(gbk or gb18030 for most Chinese Shapefiles, utf-8 otherwise)",
        ) from exc
    except Exception as exc:
        raise SourceReadError(spec.id, display, _cause(exc)) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise SourceReadError(spec.id, display, "it has no geometry column")
    source = VectorSource(_apply_crs(spec, frame, display, notes), display, notes)
    if encoding is None and looks_like_misread_gbk(_sample_text(frame)):
        source.warnings.append(
            "attribute text looks like GBK read as Latin-1 (e.g. 'Ãû³Æ' for 名称); add `encoding: gbk`"
        )
    return source


def looks_like_misread_gbk(texts: list[str]) -> bool:
    """True when text decoded as Latin-1 turns into Chinese when taken as GBK (classic mojibake).

    >>> looks_like_misread_gbk(["Ãû³Æ"])
    True
    >>> looks_like_misread_gbk(["名称", "Qinghai", "Zürich", "Citroën Ærø"])
    False
    """
    for text in texts:
        # Chinese mojibake comes in long runs of Latin-1 letters (two per character); a European
        # name has isolated accents, which GBK could also decode, so require a run of four or more.
        for run in _HIGH_RUN.findall(text):
            try:
                decoded = run.encode("latin-1").decode("gbk")
            except UnicodeDecodeError:
                continue
            if sum("\u4e00" <= ch <= "\u9fff" for ch in decoded) >= 2:
                return True
    return False


def _sample_text(frame: gpd.GeoDataFrame, rows: int = 50) -> list[str]:
    """Column names and the first values of text columns (enough to spot a wrong encoding)."""
    texts = [str(c) for c in frame.columns]
    for column in frame.columns.drop(frame.geometry.name):
        texts += [v for v in frame[column].head(rows).tolist() if isinstance(v, str)]
    return texts


def _apply_crs(spec: LayerSpec, frame: gpd.GeoDataFrame, display: str, notes: list[str]) -> gpd.GeoDataFrame:
    """Manifest ``crs`` overrides (never transforms); no CRS at all is an error with the fix."""
    declared = spec.crs_obj
    if declared is not None:
        if frame.crs is None:
            notes.append(f"source has no CRS; using the manifest's {spec.crs}")
        elif not CRS.from_user_input(frame.crs).equals(declared):
            notes.append(f"source CRS {_crs_name(frame.crs)} overridden by the manifest's {spec.crs}")
        return frame.set_crs(declared, allow_override=True)
    if frame.crs is None:
        raise SourceReadError(spec.id, display, f"the source has no CRS; {NO_CRS_FIX}")
    return frame


def _crs_name(crs: object) -> str:
    parsed = CRS.from_user_input(crs)
    code = parsed.to_epsg()
    return f"EPSG:{code}" if code else parsed.name


def _cause(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def read_ogr(spec: LayerSpec) -> VectorSource:
    """GeoPackage, GeoJSON, FlatGeobuf, KML, FileGDB … (any GDAL vector driver)."""
    return _read_ogr_path(spec, str(spec.path), str(spec.path), [])


def read_shapefile(spec: LayerSpec) -> VectorSource:
    """A plain Shapefile; warns when text encoding is a guess (no .cpg and no ``encoding:``)."""
    notes: list[str] = []
    if spec.encoding is None and not spec.path.with_suffix(".cpg").exists() and not spec.path.with_suffix(".CPG").exists():
        notes.append(
            "shapefile has no .cpg and the manifest gives no `encoding:`; if names look garbled, "
            "add `encoding: gbk`"
        )
    return _read_ogr_path(spec, str(spec.path), str(spec.path), notes)


def read_zipped_shapefile(spec: LayerSpec) -> VectorSource:
    """A .zip holding a Shapefile (read in place through GDAL's /vsizip/)."""
    display = str(spec.path)
    try:
        with zipfile.ZipFile(spec.path) as zf:
            members = zf.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise SourceReadError(spec.id, display, f"not a readable zip archive ({_cause(exc)})") from exc
    shps = [m for m in members if m.lower().endswith(".shp") and not m.startswith("__MACOSX")]
    if spec.layer is not None:
        shps = [m for m in shps if Path(m).stem == spec.layer] or shps
    if len(shps) != 1:
        found = shps or "no .shp"
        raise SourceReadError(
            spec.id, display, f"expected one shapefile in the archive, found {found}; choose with `layer:`"
        )
    member = shps[0]
    notes: list[str] = []
    stem = member[: -len(".shp")]
    if spec.encoding is None and not any(m.lower() == f"{stem}.cpg".lower() for m in members):
        notes.append("zipped shapefile has no .cpg and no `encoding:`; if names look garbled, add `encoding: gbk`")
    gdal_path = f"/vsizip/{spec.path.resolve()}/{member}"
    spec_one_layer = spec.model_copy(update={"layer": None})
    return _read_ogr_path(spec_one_layer, gdal_path, f"{display}!{member}", notes)


def read_geotiff(spec: LayerSpec) -> RasterSource:
    """A single-band GeoTIFF; the manifest ``crs`` overrides a missing or wrong one."""
    display = str(spec.path)
    notes: list[str] = []
    try:
        with rasterio.open(spec.path) as ds:
            if ds.count < 1:
                raise SourceReadError(spec.id, display, "the raster has no bands")
            if ds.count > 1:
                notes.append(f"raster has {ds.count} bands; only band 1 is kept")
            data = ds.read(1)
            src_crs: RioCRS | None = ds.crs
            transform, nodata, dtype = ds.transform, ds.nodata, ds.dtypes[0]
    except rasterio.errors.RasterioError as exc:
        raise SourceReadError(spec.id, display, _cause(exc)) from exc
    declared = spec.crs_obj
    if declared is not None:
        if src_crs is not None and not CRS.from_user_input(src_crs.to_wkt()).equals(declared):
            notes.append(f"raster CRS overridden by the manifest's {spec.crs}")
        crs = declared
    elif src_crs is None:
        raise SourceReadError(spec.id, display, f"the raster has no CRS; {NO_CRS_FIX}")
    else:
        crs = CRS.from_user_input(src_crs.to_wkt())
    return RasterSource(data, transform, crs, nodata, dtype, display, notes)


READERS: dict[str, Reader] = {
    "shapefile": read_shapefile,
    "zipped_shapefile": read_zipped_shapefile,
    "ogr": read_ogr,
    "geotiff": read_geotiff,
}
