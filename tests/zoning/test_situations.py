"""Bulk verdicts (rules evaluated once per situation) equal per-site verdicts, site by site."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from zoning.api import feature_signatures, screen_site, screen_sites
from zoning.index import LayerIndex
from zoning.rules import load_rulebook

TODAY = date(2026, 11, 21)
TYPES = ["solar_pv", "chemical", "mining", "road", None]


@pytest.fixture(scope="module")
def pack(bundled_data_dir: Path) -> LayerIndex:
    return LayerIndex.load(bundled_data_dir)


def _sites(n: int) -> gpd.GeoDataFrame:
    """Points and small squares around Xining, Qinghai Lake and the Qilian mountains."""
    rng = np.random.default_rng(11)
    lon = rng.uniform(99.5, 102.5, n)
    lat = rng.uniform(36.0, 38.5, n)
    geoms = [
        shapely.Point(x, y) if i % 3 else shapely.box(x, y, x + 0.01, y + 0.01)
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    return gpd.GeoDataFrame(
        {"project_type": [TYPES[i % len(TYPES)] for i in range(n)]}, geometry=geoms, crs=4490
    )


def test_bulk_verdicts_equal_single_site_verdicts(pack: LayerIndex) -> None:
    rulebook = load_rulebook()
    sites = _sites(240)
    summary, _ = screen_sites(
        sites, pack, rulebook, project_types=sites["project_type"], today=TODAY
    )
    for label, row in sites.iterrows():
        request = {"geometry": shapely.geometry.mapping(row.geometry)}
        if isinstance(row["project_type"], str):
            request["project"] = {"type": row["project_type"]}
        one = screen_site(request, pack, rulebook, today=TODAY)
        got = summary.loc[label]
        assert got["verdict"] == one.verdict, (label, request)
        governing = None if pd.isna(got["governing_rule"]) else got["governing_rule"]
        assert governing == (one.governing.rule_id if one.governing else None), (label, request)
        assert got["findings"] == len(one.findings), (label, request)


def test_features_that_rules_cannot_tell_apart_share_a_signature(pack: LayerIndex) -> None:
    signatures = feature_signatures(pack, load_rulebook())
    layer = next(v for v in pack.vectors.values() if v.kind == "control_unit")
    codes = signatures[layer.id]["by_row"]
    assert len(codes) == len(layer.feature_id)
    # control units differ by their control class (and code), so there are several signatures
    assert 1 < len(set(codes)) <= len(codes)


def test_signatures_worked_out_per_look_equal_those_worked_out_per_feature(
    pack: LayerIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codes are computed once per distinct look of a feature; computing them for every feature
    on its own (every feature its own look) gives the same tables, layer by layer."""
    import zoning.api as api

    rulebook = load_rulebook()
    by_look = feature_signatures(pack, rulebook)
    api._SIGNATURES.clear()
    distinct_looks = api._distinct_looks

    def every_feature_apart(layer, read, named):  # type: ignore[no-untyped-def]
        n = len(layer.feature_id)
        return np.arange(n), np.arange(n)

    monkeypatch.setattr(api, "_distinct_looks", every_feature_apart)
    apart = feature_signatures(pack, rulebook)
    api._SIGNATURES.clear()
    assert by_look.keys() == apart.keys()
    for layer_id, table in by_look.items():
        other = apart[layer_id]
        assert table["by_row"].tolist() == other["by_row"].tolist(), layer_id
        assert table["by_id"] == other["by_id"], layer_id
        assert {k: v.tolist() for k, v in table["cuts"].items()} == {
            k: v.tolist() for k, v in other["cuts"].items()
        }, layer_id
        assert table["classes"].of_row.tolist() == other["classes"].of_row.tolist(), layer_id
        assert table["classes"].reach_m == other["classes"].reach_m, layer_id
    # and the looks do collapse features: the control units differ only by control class
    units = next(v for v in pack.vectors.values() if v.kind == "control_unit")
    read, named = api._attributes_read(units.kind, [r.zone for r in rulebook.rules], [], False, False)
    look, first = distinct_looks(units, read, named)
    assert len(look) == len(units.feature_id) > 100 and len(first) == len(set(units.zone_class))


def test_values_that_print_differently_never_share_a_look() -> None:
    """Rules compare attribute values as text: 1, 1.0, True, 0.0 and -0.0 are told apart."""
    from types import SimpleNamespace

    import zoning.api as api

    values = np.array([1, 1.0, True, 0.0, -0.0, None, np.nan, "1", 1], dtype=object)
    layer = SimpleNamespace(
        feature_id=np.arange(len(values)).astype(str).astype(object),
        zone_class=np.full(len(values), "a", dtype=object),
        name=np.full(len(values), "n", dtype=object),
        attrs={"level": values},
    )
    look, first = api._distinct_looks(layer, ["level"], named=False)
    assert look.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    assert first.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def _partition(ids: np.ndarray) -> list[tuple[int, ...]]:
    groups: dict[int, list[int]] = {}
    for site, situation in enumerate(ids.tolist()):
        groups.setdefault(situation, []).append(site)
    return sorted(tuple(g) for g in groups.values())


def test_situation_ids_stay_exact_when_row_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoning.api as api

    rng = np.random.default_rng(3)
    sites = rng.integers(0, 500, 4000)
    tokens = rng.integers(0, 6, 4000)
    honest = api._situation_ids(sites, tokens, 500)
    monkeypatch.setattr(api, "_row_hashes", lambda m: np.zeros(len(m), dtype=np.uint64))
    colliding = api._situation_ids(sites, tokens, 500)
    assert len(set(honest.ids.tolist())) > 10
    assert _partition(colliding.ids) == _partition(honest.ids)
    for situation in range(len(colliding.tokens)):  # each key is the token set of its sites
        site = int(colliding.first[situation])
        assert colliding.key(situation) == tuple(sorted(set(tokens[sites == site].tolist())))


def test_a_situation_decided_in_one_chunk_is_reused_in_the_next(
    pack: LayerIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoning.api as api

    rulebook = load_rulebook()
    sites = _sites(180)
    calls: list[object] = []
    decide = api._decide_situation
    monkeypatch.setattr(api, "_decide_situation", lambda *a: calls.append(a) or decide(*a))

    def run(frame: gpd.GeoDataFrame) -> pd.DataFrame:
        out, _ = screen_sites(frame, pack, rulebook, project_types=frame["project_type"],
                              today=TODAY)
        return out

    chunks = [sites.iloc[start : start + 60] for start in range(0, 180, 60)]
    per_chunk = []
    for chunk in chunks:  # each chunk alone, nothing cached: its own situations
        api._DECISIONS.clear()
        calls.clear()
        run(chunk)
        per_chunk.append(len(calls))
    api._DECISIONS.clear()
    calls.clear()
    whole = run(sites)
    distinct = len(calls)  # situations among all 180 sites
    assert sum(per_chunk) > distinct  # chunks share situations, so caching can save work

    api._DECISIONS.clear()
    calls.clear()
    chunked = pd.concat([run(chunk) for chunk in chunks])
    assert len(calls) == distinct  # every situation evaluated once, in the first chunk it met
    again = run(chunks[0])
    assert len(calls) == distinct  # a chunk met before: nothing evaluated
    columns = ["verdict", "governing_rule", "strongest_rule", "findings", "rule_error"]
    pd.testing.assert_frame_equal(chunked[columns], whole[columns])
    pd.testing.assert_frame_equal(again[columns], whole[columns].iloc[:60])
