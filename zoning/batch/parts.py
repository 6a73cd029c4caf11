"""Per-chunk result parts on disk plus a manifest: what makes a batch resumable.

Why: a 5-million-row run takes a while and can be killed (Ctrl-C, OOM killer, a server restart).
Each finished chunk is written as Parquet under a temporary name and renamed, then recorded in
``manifest.json`` (also written atomically), so after any crash the manifest lists exactly the
chunks whose parts are complete. ``--resume`` checks that the input file and the options are the
same as before and skips those chunks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from zoning.errors import ZoningError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1
# How result rows are written as CSV text: the part's text and the final file's header and any
# part rendered again at assembly must all use these options, or the file would mix styles.
CSV_ROWS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
CSV_HEADER = pacsv.WriteOptions(include_header=True, quoting_style=CSV_ROWS.quoting_style)


def fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and hashes of the first and last MiB: cheap, and catches an edited input."""
    stat = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
        if stat.st_size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read())
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_ends": h.hexdigest()}


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _to_table(df: pd.DataFrame) -> pa.Table:
    """Geometry columns as WKB bytes (parts are plain Parquet; GeoParquet metadata is not needed)."""
    out = pd.DataFrame(df, copy=False)
    if "geometry" in out.columns:
        geoms = out["geometry"].to_numpy(dtype=object)
        out = out.assign(geometry=shapely.to_wkb(geoms))
    return pa.Table.from_pandas(out, preserve_index=False)


def unify(schemas: Iterable[pa.Schema]) -> pa.Schema:
    """One schema over several parts': columns in order of first appearance, types promoted."""
    schemas = list(schemas)
    return pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])


def without_geometry(data: Any) -> Any:
    """An Arrow table or schema without its geometry column (CSV carries none)."""
    if isinstance(data, pa.Schema):
        return data.remove(data.get_field_index("geometry")) if "geometry" in data.names else data
    return data.drop_columns(["geometry"]) if "geometry" in data.column_names else data


@dataclass
class PartStore:
    """A folder of parts: ``part-<n>.results.parquet``, ``part-<n>.hits.parquet`` and the manifest."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def start(self, run: dict[str, Any], resume: bool) -> dict[str, Any]:
        """Open the store for a run: keep finished chunks when resuming the same run, else reset.

        Raises a ZoningError when ``resume`` is asked for a different input or different options,
        so results of two different runs are never mixed.
        """
        current = self.read_manifest()
        if resume and current is not None:
            if current.get("run") != run:
                raise ZoningError(
                    f"cannot resume: the partial run in {self.root} was started with a different input "
                    "file or options",
                    field="resume",
                    hint="run again without --resume to start over, or restore the original input",
                )
            return current
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        manifest = {"schema_version": SCHEMA_VERSION, "run": run, "chunks": {}, "input_done": False,
                    "total_rows": None, "complete": False}
        self.save(manifest)
        return manifest

    def save(self, manifest: dict[str, Any]) -> None:
        _atomic_write_text(self.manifest_path, json.dumps(manifest, ensure_ascii=False, indent=1))

    def part_path(self, index: int, what: str) -> Path:
        return self.root / f"part-{index:06d}.{what}.parquet"

    def text_path(self, index: int) -> Path:
        """The chunk's result rows as CSV text (no header, no geometry): see ``write_part``."""
        return self.root / f"part-{index:06d}.results.csv"

    def write_part(self, manifest: dict[str, Any], index: int, results: pd.DataFrame,
                   hits: pd.DataFrame, *, keep_hits: bool = True, csv_text: bool = False) -> None:
        """Write one chunk's parts, then record it in the manifest (the order makes it crash-safe).

        ``keep_hits`` False: the chunk's hit rows are not written (the output has no hits
        table); only their number is recorded. ``csv_text``: the result rows are also written as
        CSV text, so that a CSV output is assembled by copying bytes instead of rendering every
        row again at the end (a tenth of a 5-million-row run); the Parquet part stays the
        record (resume, other formats, and chunks whose column types differ from the others').
        """
        table = _to_table(results)
        parts = [("results", table)] + ([("hits", _to_table(hits))] if keep_hits else [])
        for what, data in parts:
            final = self.part_path(index, what)
            tmp = final.with_name(final.name + ".tmp")
            pq.write_table(data, tmp)
            os.replace(tmp, final)
        if csv_text:
            final = self.text_path(index)
            tmp = final.with_name(final.name + ".tmp")
            pacsv.write_csv(without_geometry(table), tmp, write_options=CSV_ROWS)
            os.replace(tmp, final)
        manifest["chunks"][str(index)] = {
            "rows": len(results),
            "errors": int((results["status"] == "error").sum()),
            "first_row": int(results["row"].iloc[0]) if len(results) else None,
            "hits": len(hits),
        }
        self.save(manifest)

    def done_chunks(self, manifest: dict[str, Any]) -> set[int]:
        return {int(k) for k in manifest["chunks"]}

    def chunk_ids(self, manifest: dict[str, Any]) -> list[int]:
        return sorted(self.done_chunks(manifest))

    def part_schemas(self, manifest: dict[str, Any], what: str) -> dict[int, pa.Schema]:
        """Each part's own schema, by chunk, in chunk order (read from the Parquet footers)."""
        return {i: pq.read_schema(self.part_path(i, what)) for i in self.chunk_ids(manifest)}

    def unified_schema(self, manifest: dict[str, Any], what: str) -> pa.Schema:
        """One schema over every part: columns in order of first appearance, types promoted."""
        return unify(self.part_schemas(manifest, what).values())

    def read_table(self, index: int, what: str, schema: pa.Schema) -> pa.Table:
        """One part as an Arrow table with every column of ``schema`` (missing ones null)."""
        table = pq.read_table(self.part_path(index, what))
        for name in schema.names:
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(len(table), schema.field(name).type))
        return table.select(schema.names).cast(schema)

    def iter_tables(self, manifest: dict[str, Any], what: str) -> Iterator[pa.Table]:
        """Each part in chunk order as an Arrow table with every column of the unified schema."""
        schema = self.unified_schema(manifest, what)
        for i in self.chunk_ids(manifest):
            yield self.read_table(i, what, schema)

    def text_fits(self, index: int, schema: pa.Schema, own: pa.Schema | None = None) -> bool:
        """Whether the chunk's CSV text reads exactly as its rows rendered in ``schema`` would.

        It does when it exists and its columns are the schema's, in the same order, each of the
        same type or of type null (an all-empty column, written as empty cells in any type).
        Otherwise (say a count that is integer here and fractional in another chunk) the chunk
        is rendered again from its Parquet part, cast to the schema. ``own``: the part's schema
        when the caller has read it already.
        """
        if not self.text_path(index).exists():
            return False
        if own is None:
            own = pq.read_schema(self.part_path(index, "results"))
        own, wanted = without_geometry(own), without_geometry(schema)
        if own.names != wanted.names:
            return False
        return all(a.type == b.type or pa.types.is_null(a.type) for a, b in zip(own, wanted, strict=True))

    def iter_frames(self, manifest: dict[str, Any], what: str, *,
                    geometry: bool = True) -> Iterator[pd.DataFrame]:
        """Each part in chunk order as a DataFrame with every column of the unified schema."""
        for table in self.iter_tables(manifest, what):
            df = table.to_pandas()
            if "geometry" in df.columns:
                if geometry:
                    wkb = df["geometry"].to_numpy(dtype=object)
                    df["geometry"] = shapely.from_wkb(np.where(pd.isna(wkb), None, wkb))
                else:
                    df = df.drop(columns=["geometry"])
            yield df

    def totals(self, manifest: dict[str, Any]) -> dict[str, int]:
        chunks = manifest["chunks"].values()
        return {"rows": sum(c["rows"] for c in chunks), "errors": sum(c["errors"] for c in chunks),
                "hits": sum(c.get("hits", 0) for c in chunks)}

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
