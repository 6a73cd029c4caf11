"""CSV outputs assembled from per-chunk CSV text must read exactly as rendered from the Parquet parts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tests.batch.conftest import sample_frame
from zoning.batch.engine import BatchOptions, finish_output, run_batch, run_parts
from zoning.batch.parts import PartStore


def _chunk(rows: range, **columns: object) -> pd.DataFrame:
    frame = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "status": "ok", "error": ""})
    for name, values in columns.items():
        frame[name] = values
    frame["geometry"] = None
    return frame


# Chunks whose columns differ the ways real chunks can: a column with no value at all in one
# chunk (Arrow type null), counts that are integers in one chunk and fractions in another, a
# column missing from a chunk, text that needs quoting.
CHUNKS = [
    _chunk(range(1, 4), name=["甲", "b,c", 'say "x"'], note=[None, None, None], n=[1, 2, 3]),
    _chunk(range(4, 6), name=["", None], note=["注意", None], n=[4, 5]),
    _chunk(range(6, 8), name=["d", "e"], note=[None, None], n=[0.5, np.nan]),
    _chunk(range(8, 9), name=["f"], note=["x"]),
    _chunk(range(9, 11), name=["g", "h"], note=[None, "y"], n=[7, 8]),
]


def _store(root: Path, csv_text: bool) -> tuple[PartStore, dict]:
    store = PartStore(root)
    manifest = store.start({"run": 1}, resume=False)
    for index, frame in enumerate(CHUNKS):
        store.write_part(manifest, index, frame, pd.DataFrame({"site_index": []}), keep_hits=False,
                         csv_text=csv_text)
    manifest["complete"] = True
    return store, manifest


def test_text_parts_give_the_same_bytes_as_rendering_the_parquet_parts(tmp_path: Path) -> None:
    rendered, manifest = _store(tmp_path / "rendered", csv_text=False)
    copied, manifest2 = _store(tmp_path / "copied", csv_text=True)
    finish_output(rendered, manifest, tmp_path / "rendered.csv")
    finish_output(copied, manifest2, tmp_path / "copied.csv")
    expected = (tmp_path / "rendered.csv").read_bytes()
    assert (tmp_path / "copied.csv").read_bytes() == expected
    assert expected.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(tmp_path / "copied.csv", encoding="utf-8-sig", keep_default_na=False)
    assert back["row"].tolist() == list(range(1, 11))
    assert back["name"].tolist()[:3] == ["甲", "b,c", 'say "x"']


def test_only_chunks_whose_types_match_the_file_are_copied(tmp_path: Path) -> None:
    store, manifest = _store(tmp_path / "parts", csv_text=True)
    schema = store.unified_schema(manifest, "results")
    # n is fractional in chunk 2, so integer chunks must be rendered again (1 would become 1.0
    # in the other chunks' style); chunk 3 lacks n; null-typed note columns do not matter
    assert schema.field("n").type == "double"
    assert [store.text_fits(i, schema) for i in range(len(CHUNKS))] == [False, False, True, False, False]


def test_a_csv_batch_is_the_same_with_and_without_text_parts(tmp_path: Path, options: BatchOptions) -> None:
    src = tmp_path / "in.csv"
    sample_frame(300).to_csv(src, index=False, encoding="utf-8-sig")
    options = replace(options, chunk_rows=20)
    run_batch(src, tmp_path / "fast.csv", options, keep_parts=True)
    parts = PartStore(tmp_path / "fast.csv.parts")
    manifest = parts.read_manifest()
    assert manifest is not None
    schema = parts.unified_schema(manifest, "results")
    # the test screener writes an area column as integers in chunks without overlap: those
    # chunks are rendered again, the others copied, and the file must not show the seams
    fits = [parts.text_fits(i, schema) for i in parts.chunk_ids(manifest)]
    assert any(fits) and not all(fits)

    store = PartStore(tmp_path / "slow.parts")
    manifest = run_parts(src, store, replace(options, hit_parts=False, text_parts=False))
    assert not any(store.text_path(i).exists() for i in store.chunk_ids(manifest))
    finish_output(store, manifest, tmp_path / "slow.csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()
