"""Write a finished batch (its parts) as CSV, XLSX, GeoJSON or GeoPackage, streaming part by part.

Why streaming: the parts of a 5-million-row run do not fit in memory together, so every writer
appends one part at a time (CSV/GeoJSON as text, XLSX through XlsxWriter's constant-memory mode,
GeoPackage through pyogrio's append).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyogrio
import shapely

from zoning.batch.parts import CSV_HEADER, CSV_ROWS, PartStore, unify, without_geometry
from zoning.errors import ZoningError

OutputFormat = Literal["csv", "xlsx", "geojson", "gpkg"]
FORMATS: dict[str, OutputFormat] = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson",
                                    ".json": "geojson", ".gpkg": "gpkg"}
STORAGE_CRS = "EPSG:4490"
CSV_COPY_BLOCK = 8 << 20


def check_output_format(path: Path | str) -> OutputFormat:
    """The output format from the extension; a clear error for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ZoningError(
            f"cannot write {Path(path).name!r}: unknown output extension {suffix or '(none)'}",
            field="output", hint="use .csv, .xlsx, .geojson or .gpkg",
        )
    return FORMATS[suffix]


def default_hits(fmt: OutputFormat) -> str:
    """Which hits a format needs: formats with a hits table (XLSX sheet, GeoPackage layer) get
    every zone in reach; CSV and GeoJSON carry one row per site, for which the nearest zone per
    kind gives the very same row."""
    return "all" if fmt in ("xlsx", "gpkg") else "nearest"


def write_output(store: PartStore, manifest: dict[str, Any], path: Path, fmt: OutputFormat,
                 title: dict[str, Any]) -> None:
    writer = {"csv": _write_csv, "xlsx": _write_xlsx, "geojson": _write_geojson, "gpkg": _write_gpkg}[fmt]
    writer(store, manifest, path, title)


def _write_csv(store: PartStore, manifest: dict[str, Any], path: Path, title: dict[str, Any]) -> None:
    """UTF-8 with BOM (Excel and WPS then show Chinese correctly), written by Arrow's CSV writer.

    Chunks whose rows were kept as CSV text (``PartStore.write_part(csv_text=True)``) are copied
    byte for byte; the others are rendered from their Parquet parts here, in the same style.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    own = store.part_schemas(manifest, "results")
    schema = unify(own.values())
    columns = without_geometry(schema)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write(codecs.BOM_UTF8)
        if not columns.names:  # no rows at all: a header of the base columns
            sink.write(b"row,status,error\n")
            return
        pacsv.write_csv(columns.empty_table(), sink, write_options=CSV_HEADER)
        for i, part_schema in own.items():
            if store.text_fits(i, schema, part_schema):
                with store.text_path(i).open("rb") as text:
                    while block := text.read(CSV_COPY_BLOCK):
                        sink.write(block)
            else:
                table = store.read_table(i, "results", schema).select(columns.names)
                pacsv.write_csv(table, sink, write_options=CSV_ROWS)


def _xlsx_value(v: Any) -> Any:
    """Plain str/number/bool/None for the writer: NA/NaN/inf become blank cells."""
    if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, dict, bytes)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return v


SHEET_ROWS = 1_048_575  # data rows of one Excel sheet (1,048,576 with the header)


def _sheet(wb: Any, name: str, header: list[str], frames: Any, n_rows: int) -> None:
    """Sheets of rows streamed part by part, frozen header row, autofilter.

    An Excel sheet holds 1,048,575 data rows; more rows continue on "<name> (2)", "<name> (3)"…
    (xlsxwriter would otherwise drop them without a word).
    """
    bold = wb.add_format({"bold": True})
    sheets = 0

    def new_sheet(rows_left: int) -> Any:
        nonlocal sheets
        sheets += 1
        ws = wb.add_worksheet(name if sheets == 1 else f"{name} ({sheets})")
        ws.write_row(0, 0, header, bold)
        ws.freeze_panes(1, 0)
        if header:
            ws.autofilter(0, 0, max(min(rows_left, SHEET_ROWS), 1), len(header) - 1)
        return ws

    ws = new_sheet(n_rows)
    r = 1
    written = 0
    for df in frames:
        for row in df.itertuples(index=False, name=None):
            if r > SHEET_ROWS:
                ws = new_sheet(n_rows - written)
                r = 1
            ws.write_row(r, 0, [_xlsx_value(v) for v in row])
            r += 1
            written += 1


def _summary_rows(store: PartStore, manifest: dict[str, Any], title: dict[str, Any]) -> list[list[Any]]:
    totals = store.totals(manifest)
    rows: list[list[Any]] = [["item", "value"], ["input", title.get("input")],
                             ["rows", totals["rows"]], ["rows ok", totals["rows"] - totals["errors"]],
                             ["rows with errors", totals["errors"]], ["hits (site × zone)", totals["hits"]]]
    for key, value in (title.get("options") or {}).items():
        rows.append([f"option {key}", "" if value is None else str(value)])
    schema = store.unified_schema(manifest, "results")
    if "verdict" in schema.names:
        counts: pd.Series = pd.Series(dtype=np.int64)
        for df in store.iter_frames(manifest, "results", geometry=False):
            counts = counts.add(df["verdict"].fillna("(error)").value_counts(), fill_value=0)
        for verdict, n in counts.sort_index().items():
            rows.append([f"verdict {verdict}", int(n)])
    return rows


def _write_xlsx(store: PartStore, manifest: dict[str, Any], path: Path, title: dict[str, Any]) -> None:
    """Results first (one row per input row), then hits (site × zone), then a summary sheet."""
    import xlsxwriter

    # constant_memory: rows are flushed as written, so a million-row sheet needs little memory.
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_urls": False,
                                         "strings_to_formulas": False, "strings_to_numbers": False})
    totals = store.totals(manifest)
    res_cols = [c for c in store.unified_schema(manifest, "results").names if c != "geometry"]
    _sheet(wb, "results", res_cols, store.iter_frames(manifest, "results", geometry=False), totals["rows"])
    hit_cols = [c for c in store.unified_schema(manifest, "hits").names if c != "geometry"]
    _sheet(wb, "hits", hit_cols or ["row"], store.iter_frames(manifest, "hits", geometry=False), totals["hits"])
    summary = _summary_rows(store, manifest, title)
    _sheet(wb, "summary", summary[0], [pd.DataFrame(summary[1:])], len(summary) - 1)
    wb.close()


def _write_geojson(store: PartStore, manifest: dict[str, Any], path: Path, title: dict[str, Any]) -> None:
    """A FeatureCollection in EPSG:4490 lon/lat (RFC 7946 order); error rows have null geometry."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type":"FeatureCollection","features":[\n')
        sep = ""
        for df in store.iter_frames(manifest, "results"):
            geoms = df.pop("geometry").to_numpy(dtype=object)
            gjson = np.full(len(geoms), "null", dtype=object)
            has = ~pd.isna(geoms)
            if has.any():
                gjson[has] = shapely.to_geojson(geoms[has])
            props = json.loads(df.to_json(orient="records", force_ascii=False, date_format="iso"))
            for p, g in zip(props, gjson, strict=True):
                fh.write(f'{sep}{{"type":"Feature","properties":{json.dumps(p, ensure_ascii=False)},"geometry":{g}}}')
                sep = ",\n"
        fh.write("\n]}\n")


def _gpkg_frame(df: pd.DataFrame) -> Any:
    import geopandas as gpd

    geoms = df.pop("geometry") if "geometry" in df.columns else pd.Series([None] * len(df))
    for col in df.columns:  # GeoPackage fields cannot hold lists/dicts
        if df[col].dtype == object:
            df[col] = df[col].map(lambda v: json.dumps(v, ensure_ascii=False, default=str)
                                  if isinstance(v, (list, dict)) else v)
    return gpd.GeoDataFrame(df, geometry=geoms.to_numpy(dtype=object), crs=STORAGE_CRS)


def _write_gpkg(store: PartStore, manifest: dict[str, Any], path: Path, title: dict[str, Any]) -> None:
    """Layer ``sites`` (one feature per input row, verdicts) and ``overlaps`` (site × zone hits)."""
    first = True
    for df in store.iter_frames(manifest, "results"):
        pyogrio.write_dataframe(_gpkg_frame(df), path, layer="sites", driver="GPKG",
                                append=not first, geometry_type="Unknown", promote_to_multi=False)
        first = False
    if first:  # no rows at all: still a valid, empty sites layer
        empty = pd.DataFrame({c: [] for c in store.unified_schema(manifest, "results").names})
        pyogrio.write_dataframe(_gpkg_frame(empty), path, layer="sites", driver="GPKG", geometry_type="Unknown")
    first = True
    for df in store.iter_frames(manifest, "hits"):
        if not len(df):
            continue
        pyogrio.write_dataframe(_gpkg_frame(df), path, layer="overlaps", driver="GPKG",
                                append=not first, geometry_type="Unknown", promote_to_multi=False)
        first = False
