"""Fast cross-check of the benchmark competitors on a tiny synthetic set.

Why in the default suite: the benchmark's speed figures only mean something if every engine
gives the same answer; this keeps the adapters (and our engine) honest on every change, in a few
seconds, with the same generator and comparison the full benchmark uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from bench import synth
from bench.crosscheck import compare
from bench.engines import make_engine, polygon_layers
from bench.engines.base import concat
from bench.engines.ours import find_screen_many
from bench.pgcluster import pg_bin

KINDS = ("point", "polygon", "line")
SIZES = {"point": 400, "polygon": 120, "line": 120}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.generate(synth.TINY, tmp_path_factory.mktemp("synth") / "tiny")


@pytest.fixture(scope="module")
def sites() -> dict[str, object]:
    bbox = synth.TINY.bbox
    return {
        "point": synth.site_points(SIZES["point"], bbox, 3),
        "polygon": synth.site_polygons(SIZES["polygon"], bbox, 3),
        "line": synth.site_lines(SIZES["line"], bbox, 3),
    }


@pytest.fixture(scope="module")
def reference(tiny: Path, sites: dict) -> dict[str, pd.DataFrame]:
    """GeoPandas answers: the plainest route, used as the yardstick here."""
    engine = make_engine("geopandas")
    engine.load(tiny, polygon_layers(tiny))
    answers = {kind: engine.screen_batch(sites[kind], kind) for kind in KINDS}
    engine.close()
    return answers


def _assert_same(reference: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]) -> None:
    for kind in KINDS:
        result = compare(reference[kind], other[kind])
        assert result.ok, f"{kind}: {result.summary()} {result.examples}"
        assert result.pairs_reference > 0, f"{kind}: the tiny set produced no hits at all"


def _one_by_one(engine: object, sites: dict, kind: str) -> pd.DataFrame:
    frames = []
    for site_id, geom in zip(sites[kind]["site"], sites[kind].geometry, strict=True):
        frame = engine.screen_one(geom, kind)  # type: ignore[attr-defined]
        frame["site"] = site_id
        frames.append(frame)
    return concat(frames)


def test_reference_answers_are_plausible(reference: dict[str, pd.DataFrame], sites: dict) -> None:
    # Control units tile the extent, so every point site falls in exactly one unit.
    units = reference["point"][reference["point"]["layer"] == "syn_unit"]
    assert sorted(units["site"]) == list(range(SIZES["point"]))
    # Overlap areas never exceed the site's own area (measured independently here).
    from bench.measure import area_m2

    poly = reference["polygon"]
    site_area = area_m2(sites["polygon"].geometry.values)[poly["site"].to_numpy()]
    assert (poly["area_m2"].to_numpy() <= site_area * (1 + 1e-9)).all()


def test_duckdb_matches(tiny: Path, sites: dict, reference: dict[str, pd.DataFrame]) -> None:
    engine = make_engine("duckdb")
    engine.load(tiny, polygon_layers(tiny))
    try:
        _assert_same(reference, {k: engine.screen_batch(sites[k], k) for k in KINDS})
        _assert_same(
            {k: reference[k][reference[k]["site"] < 15] for k in KINDS},
            {k: _one_by_one(engine, {k: sites[k].iloc[:15]}, k) for k in KINDS},
        )
    finally:
        engine.close()


def test_ours_single_site_matches(
    tiny: Path, sites: dict, reference: dict[str, pd.DataFrame]
) -> None:
    engine = make_engine("ours")
    engine.load(tiny, polygon_layers(tiny))
    _assert_same(reference, {k: _one_by_one(engine, sites, k) for k in KINDS})


@pytest.mark.skipif(find_screen_many() is None, reason="zoning screen_many has not landed yet")
def test_ours_batch_matches(tiny: Path, sites: dict, reference: dict[str, pd.DataFrame]) -> None:
    engine = make_engine("ours")
    engine.load(tiny, polygon_layers(tiny))
    _assert_same(reference, {k: engine.screen_batch(sites[k], k) for k in KINDS})


@pytest.mark.postgis
@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server (initdb) not installed")
def test_postgis_matches(tiny: Path, sites: dict, reference: dict[str, pd.DataFrame]) -> None:
    engine = make_engine("postgis")
    try:
        engine.load(tiny, polygon_layers(tiny))
        _assert_same(reference, {k: engine.screen_batch(sites[k], k) for k in KINDS})
        assert engine.server_peak_rss_kb() > 0  # type: ignore[attr-defined]
    finally:
        engine.close()
    assert not engine.cluster.root.exists()  # type: ignore[attr-defined]


def test_compare_detects_differences(reference: dict[str, pd.DataFrame]) -> None:
    ref = reference["polygon"]
    assert compare(ref, ref).ok
    off = ref.copy()
    off.loc[off.index[0], "area_m2"] *= 1.01  # 1 % off on one pair
    result = compare(ref, off)
    assert (result.measure_mismatches, result.missing, result.extra) == (1, 0, 0)
    assert compare(ref, ref.iloc[1:]).missing == 1
    assert compare(ref.iloc[1:], ref).extra == 1


def test_synthetic_set_is_deterministic_and_valid(tmp_path: Path, tiny: Path) -> None:
    import geopandas as gpd

    from layers.catalog import read_catalog

    again = synth.generate(synth.TINY, tmp_path / "again")
    first = {e.id: e.version for e in read_catalog(tiny).layers}
    assert first == {e.id: e.version for e in read_catalog(again).layers}
    red = gpd.read_parquet(tiny / "layers" / "syn_redline.parquet")
    geoms = red.geometry.values
    assert shapely.is_valid(geoms).all()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    assert not (a < b).any(), "red-line polygons must not overlap each other"
    assert list(red.columns[:4]) == ["feature_id", "name", "zone_class", "code"]
    assert {"accuracy", "derivation", "area_km2"} <= set(red.columns)
    units = gpd.read_parquet(tiny / "layers" / "syn_unit.parquet")
    tiled = shapely.area(shapely.union_all(units.geometry.values))
    assert np.isclose(tiled, shapely.area(shapely.box(*synth.TINY.bbox)), rtol=1e-9)


def test_geopandas_single_site_matches_its_batch(
    tiny: Path, sites: dict, reference: dict[str, pd.DataFrame]
) -> None:
    engine = make_engine("geopandas")
    engine.load(tiny, polygon_layers(tiny))
    _assert_same(
        {k: reference[k][reference[k]["site"] < 20] for k in KINDS},
        {k: _one_by_one(engine, {k: sites[k].iloc[:20]}, k) for k in KINDS},
    )
