"""Project taxonomy: required ids, lookup by id / alias / GB/T 4754 code, groups, listing."""

from __future__ import annotations

import json

import pytest

from zoning.errors import UnknownProjectTypeError

REQUIRED = [
    "mining", "coal_mining", "quarry_sand_gravel", "hydropower", "small_hydropower", "solar_pv",
    "wind", "power_line", "road", "railway", "pipeline", "chemical", "chemical_park",
    "tailings_pond", "metallurgy", "building_materials", "thermal_power", "tourism_facility",
    "grazing", "fishing", "residential", "urban_development", "industrial_park",
    "water_withdrawal", "ecological_restoration", "scientific_research", "baijiu",
    "phosphorus_chemical", "pumped_storage", "sewage_outfall",
]


@pytest.mark.parametrize("type_id", REQUIRED)
def test_required_types(rulebook, type_id: str) -> None:
    t = rulebook.taxonomy.get(type_id)
    assert t.zh and t.en and t.geometry in ("linear", "areal", "point")


def test_linear_types(rulebook) -> None:
    for tid in ("road", "railway", "power_line", "pipeline"):
        assert rulebook.taxonomy.get(tid).geometry == "linear"


def test_red_line_activities_complete_and_grouped(rulebook) -> None:
    """Every RL1–RL10 type of 自然资发〔2022〕142号 has a type, and each is in red_line_limited."""
    tax = rulebook.taxonomy
    rl = {t.red_line_activity for t in tax.types.values() if t.red_line_activity}
    assert rl == {f"RL{i}" for i in range(1, 11)}
    with_rl = {t.id for t in tax.types.values() if t.red_line_activity}
    assert with_rl == set(tax.groups["red_line_limited"])


@pytest.mark.parametrize(
    "code,expected",
    [("2614", "chemical"), ("C2614", "chemical"), ("26", "chemical"), ("2622", "phosphorus_chemical"),
     ("1512", "baijiu"), ("4413", "hydropower"), ("4416", "solar_pv"), ("0610", "coal_mining"),
     ("1019", "quarry_sand_gravel"), ("4812", "road"), ("4710", "residential"), ("4720", "urban_development")],
)
def test_lookup_by_code(rulebook, code: str, expected: str) -> None:
    assert rulebook.taxonomy.by_industry_code(code).id == expected


def test_lookup_by_alias(rulebook) -> None:
    assert rulebook.taxonomy.get("chem_plant").id == "chemical"
    assert rulebook.taxonomy.get(" Solar_PV ").id == "solar_pv"


def test_type_wins_over_code(rulebook) -> None:
    assert rulebook.taxonomy.resolve("small_hydropower", "4413").id == "small_hydropower"
    assert rulebook.taxonomy.resolve(None, None) is None


@pytest.mark.parametrize("bad", ["spaceport", ""])
def test_unknown_type_lists_known(rulebook, bad: str) -> None:
    with pytest.raises(UnknownProjectTypeError) as exc:
        rulebook.taxonomy.get(bad or "x")
    assert exc.value.status_code == 422
    assert "chemical" in exc.value.hint and "road" in exc.value.hint


@pytest.mark.parametrize("code", ["9", "ABC", "99", "26145"])
def test_bad_or_unknown_code(rulebook, code: str) -> None:
    with pytest.raises(UnknownProjectTypeError) as exc:
        rulebook.taxonomy.by_industry_code(code)
    assert exc.value.field == "project.industry_code"


def test_groups_resolve_includes(rulebook) -> None:
    g = rulebook.taxonomy.groups
    assert {"chemical", "coal_chemical", "chemical_park"} <= g["chemical_industry"]
    assert g["chemical_industry"] <= g["heavy_industry"] <= g["industrial"]
    assert "tailings_pond" in g["polluting"]


def test_listing_filters(rulebook) -> None:
    tax = rulebook.taxonomy
    rows = tax.listing()
    json.dumps(rows, ensure_ascii=False)
    assert len(rows) == len(tax.types)
    assert {r["id"] for r in tax.listing(geometry="linear")} >= {"road", "railway"}
    assert [r["id"] for r in tax.listing(code="2614")] == ["chemical"]
    assert "baijiu" in {r["id"] for r in tax.listing(q="白酒")}
    assert {r["id"] for r in tax.listing(group="new_energy")} == {"solar_pv", "wind"}
    with pytest.raises(UnknownProjectTypeError):
        tax.listing(group="nope")
    assert any(g["id"] == "linear_infrastructure" for g in tax.groups_listing())
