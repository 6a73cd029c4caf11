"""Open a batch input and stream it in chunks of rows (bounded memory for millions of rows).

Why a streaming reader: a provincial siting plan can be a 5-million-row CSV; holding it, its
geometries and its results at once would not fit, so every format is read as an iterator of
DataFrames of at most ``chunk_rows`` rows. Tables (CSV, XLSX) come back as text cells exactly as
written (ids with leading zeros survive); GIS files come back as GeoDataFrames with their CRS.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from zoning.errors import ZoningError

InputKind = Literal["csv", "xlsx", "vector"]
VECTOR_EXTENSIONS = {".geojson", ".json", ".gpkg", ".zip", ".kml", ".fgb", ".shp"}
_SNIFF_BYTES = 1 << 20


@dataclass
class InputInfo:
    """What was detected about an input file before reading it."""

    path: Path
    kind: InputKind
    encoding: str | None = None
    delimiter: str = ","
    total_rows: int | None = None
    crs: str | None = None
    columns: list[str] = field(default_factory=list)


def _magic_kind(path: Path) -> InputKind | None:
    """Decide the format from the first bytes (an .xlsx renamed .csv is still an .xlsx)."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        if any(n.lower().endswith(".shp") for n in names):
            return "vector"
        raise ZoningError(
            f"{path.name}: a zip file with neither an Excel workbook nor a shapefile inside",
            field="file",
            hint="upload an .xlsx, or a .zip holding .shp/.shx/.dbf/.prj",
        )
    if head.startswith(b"SQLite format 3") or head.startswith(b"fgb\x03"):
        return "vector"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") or text.startswith(b"<"):
        return "vector"  # GeoJSON or KML/XML
    return None


def _detect_encoding(path: Path) -> tuple[str, int]:
    """Return (encoding, line count): UTF-8 (with or without BOM) if the whole file decodes, else GB18030.

    Why decode the whole file: a GBK byte sequence can sit on row 900,000 of a file whose first
    megabyte is pure ASCII. Decoding is fast (hundreds of MB/s) and the same pass counts lines
    for the progress bar. GB18030 is a superset of GBK and GB2312, so it reads all three.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    utf8_ok = True
    with path.open("rb") as fh:
        first = fh.read(3)
        bom = first == codecs.BOM_UTF8
        fh.seek(0)
        last = b""
        while block := fh.read(_SNIFF_BYTES):
            lines += block.count(b"\n")
            last = block
            if utf8_ok:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8_ok = False
        if utf8_ok:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_ok = False
    if last and not last.endswith(b"\n"):
        lines += 1
    if utf8_ok:
        return ("utf-8-sig" if bom else "utf-8"), lines
    try:
        with path.open("r", encoding="gb18030") as fh:
            while fh.read(_SNIFF_BYTES):
                pass
    except UnicodeDecodeError as exc:
        raise ZoningError(
            f"{path.name}: text is neither UTF-8 nor GBK/GB18030 (byte {exc.start})",
            field="file",
            hint="save the CSV as 'CSV UTF-8' from Excel or WPS",
        ) from exc
    return "gb18030", lines


def inspect_input(path: Path | str, layer: str | None = None) -> InputInfo:
    """Detect format (content first, extension second), encoding, delimiter and row count."""
    path = Path(path)
    if not path.is_file():
        raise ZoningError(f"input file not found: {path}", field="input", hint="check the path")
    kind = _magic_kind(path)
    ext = path.suffix.lower()
    if kind is None:
        kind = "vector" if ext in VECTOR_EXTENSIONS - {".zip"} else "csv"
    if kind == "csv":
        encoding, lines = _detect_encoding(path)
        with path.open("r", encoding=encoding, newline="") as fh:
            sample = fh.read(64 * 1024)
        first_line = sample.splitlines()[0] if sample.strip() else ""
        if not first_line:
            raise ZoningError(f"{path.name} is empty", field="file", hint="add a header row and data rows")
        try:
            delimiter = csv.Sniffer().sniff(first_line, delimiters=",\t;|").delimiter
        except csv.Error:
            delimiter = ","
        return InputInfo(path, "csv", encoding, delimiter, max(lines - 1, 0))
    if kind == "xlsx":
        return InputInfo(path, "xlsx", total_rows=_xlsx_rows(path))
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception as exc:
        raise ZoningError(
            f"{path.name}: not a readable GIS file ({exc})",
            field="file",
            hint="use GeoJSON, GeoPackage, zipped Shapefile, KML or FlatGeobuf",
        ) from exc
    count = int(info["features"]) if info.get("features", -1) >= 0 else None
    return InputInfo(path, "vector", total_rows=count, crs=info.get("crs"))


def _first_sheet(path: Path) -> Any:
    """The first worksheet through calamine (Rust): an order of magnitude faster than openpyxl.

    Opened from a file object so a renamed workbook (``.csv`` that is really ``.xlsx``) works.
    """
    from python_calamine import CalamineWorkbook

    with path.open("rb") as fh:
        try:
            return CalamineWorkbook.from_filelike(fh).get_sheet_by_index(0)
        except Exception as exc:  # calamine raises its own error types for damaged files
            raise ZoningError(f"{path.name}: cannot read the workbook ({exc})", field="file",
                              hint="save it again as .xlsx from Excel or WPS") from exc


def _xlsx_rows(path: Path) -> int | None:
    return max(_first_sheet(path).height - 1, 0)


def iter_chunks(info: InputInfo, chunk_rows: int, layer: str | None = None) -> Iterator[pd.DataFrame]:
    """Yield the input as DataFrames of at most ``chunk_rows`` rows, in file order."""
    if chunk_rows < 1:
        raise ZoningError("chunk size must be at least 1", field="chunk_rows")
    if info.kind == "csv":
        yield from _csv_chunks(info, chunk_rows)
    elif info.kind == "xlsx":
        yield from _xlsx_chunks(info, chunk_rows)
    else:
        yield from _vector_chunks(info, chunk_rows, layer)


def _csv_chunks(info: InputInfo, chunk_rows: int) -> Iterator[pd.DataFrame]:
    reader = pd.read_csv(
        info.path,
        encoding=info.encoding,
        sep=info.delimiter,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        chunksize=chunk_rows,
        skipinitialspace=True,
    )
    with reader:
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except pd.errors.ParserError as exc:  # a ragged line: no row can be attributed safely
                raise ZoningError(
                    f"{info.path.name}: malformed CSV ({exc})",
                    field="file",
                    hint="every line needs as many fields as the header; quote cells that contain the delimiter",
                ) from exc
            chunk.columns = [str(c).strip() for c in chunk.columns]
            yield chunk.reset_index(drop=True)


def _cell_text(value: object) -> str:
    """Spreadsheet cells as text, numbers without a spurious '.0' (ids, codes stay intact)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _xlsx_chunks(info: InputInfo, chunk_rows: int) -> Iterator[pd.DataFrame]:
    rows = _first_sheet(info.path).iter_rows()
    header: list[str] | None = None
    for values in rows:
        if any(v not in (None, "") for v in values):
            header = [_cell_text(v).strip() or f"column_{i + 1}" for i, v in enumerate(values)]
            break
    if header is None:
        raise ZoningError(f"{info.path.name}: the first sheet is empty", field="file", hint="put a header row first")
    width = len(header)
    buf: list[list[str]] = []
    for values in rows:
        cells = [_cell_text(v) for v in values[:width]]
        cells += [""] * (width - len(cells))
        buf.append(cells)
        if len(buf) >= chunk_rows:
            yield pd.DataFrame(buf, columns=header, dtype=str)
            buf = []
    # Trailing blank rows are formatting, not data: Excel counts them in the sheet's size.
    while buf and not any(buf[-1]):
        buf.pop()
    if buf:
        yield pd.DataFrame(buf, columns=header, dtype=str)


def _vector_chunks(info: InputInfo, chunk_rows: int, layer: str | None) -> Iterator[pd.DataFrame]:
    """Stream features through GDAL's Arrow interface: one record batch per chunk."""
    with pyogrio.open_arrow(info.path, layer=layer, batch_size=chunk_rows, use_pyarrow=True) as (meta, reader):
        geom_col = meta.get("geometry_name") or "wkb_geometry"
        for batch in reader:
            table = batch.to_pandas()
            wkb = table.pop(geom_col) if geom_col in table.columns else pd.Series([None] * len(table))
            geoms = shapely.from_wkb(wkb.to_numpy(), on_invalid="ignore")
            gdf = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=geoms, crs=meta.get("crs"))
            yield gdf


def read_all(path: Path | str, chunk_rows: int = 100_000) -> pd.DataFrame:
    """Whole input in one frame (tests and small files only)."""
    info = inspect_input(path)
    parts = list(iter_chunks(info, chunk_rows))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

