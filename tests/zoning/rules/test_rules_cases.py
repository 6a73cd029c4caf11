"""The case table: each row is one site + project + date, the verdict and findings expected, and
the clause it checks (domain.md rule id and the legal source).

Rows are positive and negative: just inside / just outside distance thresholds, exception applies
/ does not, as_of before / after a rule took effect or expired, overlapping zones with the right
governing rule, and missing coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from tests.zoning.rules._rules_helpers import GUIZHOU, QINGHAI, hit, spatial
from zoning.result import Hit
from zoning.rules import ProjectSpec, evaluate

D = date(2026, 11, 1)

YELLOW = dict(basin="yellow", river="黄河")
YANGTZE = dict(basin="yangtze")


@dataclass
class Case:
    id: str
    cites: str
    hits: list[Hit]
    project: dict[str, Any] | None
    verdict: str
    governing: str | None = None
    effects: dict[str, str] = field(default_factory=dict)  # rule id → expected finding effect
    absent: tuple[str, ...] = ()  # rule ids that must NOT produce a finding
    statuses: dict[str, str] = field(default_factory=dict)
    as_of: date = D
    no_data: tuple[str, ...] = ()
    missing_kinds: tuple[str, ...] = ()


CASES = [
    # --- Yellow River shoreline (R50): no fixed distance in the law --------------------------
    Case("yellow_chem_range_unpublished", "R50 N8 Art 26: no published 岸线管控范围 → cannot decide",
         [QINGHAI, hit("river", "hh", d=600, cls="mainstem", name="黄河", **YELLOW)],
         {"type": "chemical"}, "insufficient_data", "R50", {"R50": "caution"},
         statuses={"R50": "no_data"}),
    Case("yellow_chem_inside_range", "R50 N8 Art 26: inside the published control range",
         [QINGHAI, hit("river", "hh", d=600, cls="mainstem", name="黄河", shoreline_control_m=1000, **YELLOW)],
         {"type": "chemical"}, "prohibited", "R50", {"R50": "prohibited", "R84": "restricted"}),
    Case("yellow_chem_outside_range", "R50 N8 Art 26: outside the published control range",
         [QINGHAI, hit("river", "hh", d=600, cls="mainstem", name="黄河", shoreline_control_m=500, **YELLOW)],
         {"type": "chemical"}, "restricted", "R84", absent=("R50",)),
    # --- Yangtze 1 km / 3 km (R40, R41) --------------------------------------------------------
    Case("yangtze_chem_just_inside", "R40 N7 Art 26: 999 m < 1 km",
         [GUIZHOU, hit("river", "wj", d=999, cls="tributary", name="某支流", **YANGTZE)],
         {"type": "chemical", "phase": "new"}, "prohibited", "R40", {"R40": "prohibited"}),
    Case("yangtze_chem_just_outside", "R40 N7 Art 26: 1001 m > 1 km",
         [GUIZHOU, hit("river", "wj", d=1001, cls="tributary", name="某支流", **YANGTZE)],
         {"type": "chemical", "phase": "new"}, "caution", "R95", absent=("R40",)),
    Case("yangtze_chem_by_code", "R40 N7 Art 26 via GB/T 4754 code 2614",
         [GUIZHOU, hit("river", "wj", d=500, cls="mainstem", **YANGTZE)],
         {"industry_code": "2614"}, "prohibited", "R40"),
    Case("yangtze_chem_reconstruction", "R40 N7 Art 26 covers new and expanded only",
         [GUIZHOU, hit("river", "wj", d=500, cls="mainstem", **YANGTZE)],
         {"type": "chemical", "phase": "reconstruction"}, "caution", absent=("R40",)),
    Case("yangtze_tailings_main_inside", "R41 N7 Art 26: 2999 m < 3 km of main stem",
         [GUIZHOU, hit("river", "cj", d=2999, cls="mainstem", name="长江", **YANGTZE)],
         {"type": "tailings_pond"}, "prohibited", "R41-main"),
    Case("yangtze_tailings_main_outside", "R41 N7 Art 26: 3001 m > 3 km of main stem",
         [GUIZHOU, hit("river", "cj", d=3001, cls="mainstem", name="长江", **YANGTZE)],
         {"type": "tailings_pond"}, "clear", absent=("R41-main",)),
    Case("yangtze_tailings_trib_1500", "R41 N7 Art 26: important tributary threshold is 1 km",
         [GUIZHOU, hit("river", "wj", d=1500, cls="important_tributary", name="乌江", **YANGTZE)],
         {"type": "tailings_pond"}, "clear", absent=("R41-trib",)),
    Case("yangtze_tailings_trib_900", "R41 N7 Art 26: 900 m of an important tributary",
         [GUIZHOU, hit("river", "wj", d=900, cls="important_tributary", name="乌江", **YANGTZE)],
         {"type": "tailings_pond"}, "prohibited", "R41-trib"),
    Case("yangtze_tailings_safety_rebuild", "R41 N7 Art 26 exception: rebuild raising safety",
         [GUIZHOU, hit("river", "cj", d=2000, cls="mainstem", name="长江", **YANGTZE)],
         {"type": "tailings_pond", "phase": "reconstruction"}, "restricted", "R41-main",
         {"R41-main": "permitted_exception"}),
    # --- Red line (R02, R04, R05) --------------------------------------------------------------
    Case("redline_road", "R02/R04 N3 §一(一): unavoidable linear infrastructure (RL6)",
         [QINGHAI, hit("ecological_red_line", "rl1", name="红线")],
         {"type": "road"}, "restricted", "R04", {"R02": "permitted_exception", "R04": "restricted"}),
    Case("redline_chemical", "R02 N3 §一(一): production construction prohibited",
         [QINGHAI, hit("ecological_red_line", "rl1")],
         {"type": "chemical"}, "prohibited", "R02", {"R02": "prohibited"}),
    Case("redline_national_major", "R05 N3: national major project → restricted with approval",
         [QINGHAI, hit("ecological_red_line", "rl1")],
         {"type": "thermal_power", "national_major_category": 5}, "restricted", "R05",
         {"R05": "restricted"}, absent=("R02",)),
    Case("redline_zone_level", "R02 N3 §一(一): no project → what is prohibited here at all",
         [QINGHAI, hit("ecological_red_line", "rl1")],
         None, "prohibited", "R02", {"R02": "prohibited", "R04": "restricted"}),
    # --- National parks (R10, R12, R13, R17) and precedence -------------------------------------
    Case("np_core_research_after_law", "R10 N4 (from 2026-01-01): research allowed with approval",
         [QINGHAI, hit("national_park", "sjy1", cls="core_protection", name="三江源国家公园", park_status="established", park="三江源国家公园")],
         {"type": "scientific_research"}, "restricted", "R10", {"R10": "permitted_exception"},
         statuses={"R10-interim": "not_in_force"}),
    Case("np_core_tourism_sjy", "R11 Q5: tourism closed in 三江源 core zones",
         [QINGHAI, hit("national_park", "sjy1", cls="core_protection", name="三江源国家公园", park_status="established")],
         {"type": "tourism_facility"}, "prohibited", effects={"R11": "prohibited", "R10": "prohibited"}),
    Case("np_general_before_law", "R12-interim N5 before 2026-01-01",
         [QINGHAI, hit("national_park", "qls", cls="general_control", name="祁连山国家公园", park_status="established")],
         {"type": "tourism_facility"}, "restricted", "R13",
         {"R12-interim": "permitted_exception", "R13": "restricted"}, absent=("R12",),
         as_of=date(2025, 6, 1)),
    Case("np_general_after_law", "R12 N4 in force 2026-01-01",
         [QINGHAI, hit("national_park", "qls", cls="general_control", name="祁连山国家公园", park_status="established")],
         {"type": "tourism_facility"}, "restricted", "R13",
         {"R12": "permitted_exception"}, absent=("R12-interim",), as_of=date(2026, 1, 1)),
    Case("np_general_mining", "R12 N4 + R15 (000 L64): mining prohibited in an established NP",
         [QINGHAI, hit("national_park", "qls", cls="general_control", name="祁连山国家公园", park_status="established")],
         {"type": "mining"}, "prohibited", effects={"R12": "prohibited", "R15": "prohibited", "R18": "prohibited"}),
    Case("np_candidate_no_np_rules", "R17 (002 L308): candidate park → caution only",
         [QINGHAI, hit("national_park", "qhh", cls="core_protection", name="青海湖国家公园", park_status="candidate")],
         {"type": "mining"}, "caution", "R17", {"R17": "caution"}, absent=("R10", "R12", "R15")),
    Case("candidate_over_reserve_core", "R17 + R21 N6 Art 27: candidate NP leaves the reserve rules",
         [QINGHAI, hit("national_park", "qhh", cls="core_protection", park_status="candidate"),
          hit("nature_reserve", "qhh_nr", cls="core", name="青海湖国家级自然保护区")],
         {"type": "tourism_facility"}, "prohibited", "R21", {"R21": "prohibited", "R17": "caution"}),
    Case("np_replaces_reserve", "§4.1.4: established NP rules replace merged reserve rules (R22 → R12/R13)",
         [QINGHAI, hit("national_park", "qls", cls="general_control", park_status="established"),
          hit("nature_reserve", "qls_nr", cls="buffer", name="祁连山省级自然保护区")],
         {"type": "tourism_facility"}, "restricted", "R13", absent=("R22", "R23"),
         statuses={"R22": "superseded"}),
    Case("overlap_redline_exception_vs_reserve", "§4.1.2: RL5 exception in the red line does not lift N6 Art 28",
         [QINGHAI, hit("ecological_red_line", "rl1"), hit("nature_reserve", "nr1", cls="buffer", name="某保护区")],
         {"type": "tourism_facility"}, "prohibited", "R22",
         {"R02": "permitted_exception", "R22": "prohibited", "R03": "caution"}),
    Case("reserve_experimental_polluting", "R24 N6 Art 32: polluting facility in the experimental zone",
         [QINGHAI, hit("nature_reserve", "nr1", cls="experimental")],
         {"type": "building_materials"}, "prohibited", effects={"R24": "prohibited"}, absent=("R24-other",)),
    Case("reserve_experimental_other", "R24 N6 Art 29/32: other projects restricted",
         [QINGHAI, hit("nature_reserve", "nr1", cls="experimental")],
         {"type": "wind"}, "restricted", "R24-other"),
    # --- Drinking water (R30–R33) -------------------------------------------------------------
    Case("water_grade1_residential", "R31 N9 Art 65", [QINGHAI, hit("drinking_water_source", "w1", cls="grade1")],
         {"type": "residential"}, "prohibited", "R31"),
    Case("water_grade1_supply", "R31 N9 Art 65: water-supply projects are not unrelated",
         [QINGHAI, hit("drinking_water_source", "w1", cls="grade1")],
         {"type": "water_withdrawal"}, "restricted", "R31", {"R31": "restricted"}),
    Case("water_grade2_outfall", "R30 N9 Art 64", [GUIZHOU, hit("drinking_water_source", "w2", cls="grade2")],
         {"type": "sewage_outfall"}, "prohibited", "R30"),
    Case("water_quasi_rebuild", "R33 N9 Art 67: rebuilds must not add discharges",
         [GUIZHOU, hit("drinking_water_source", "w3", cls="quasi")],
         {"type": "metallurgy", "phase": "reconstruction"}, "restricted", "R33-rebuild", absent=("R33",)),
    # --- Fishing bans and dates (R44, R54, R74) -------------------------------------------------
    Case("yellow_fishing_last_day", "R54 Q4: ban until 2026-07-31",
         [QINGHAI, hit("river", "hh", cls="mainstem", name="黄河", **YELLOW)],
         {"type": "fishing"}, "prohibited", "R54", as_of=date(2026, 7, 31)),
    Case("yellow_fishing_after_expiry", "R54 Q4 expired 2026-08-01; N8 Art 42 closed seasons remain",
         [QINGHAI, hit("river", "hh", cls="mainstem", name="黄河", **YELLOW)],
         {"type": "fishing"}, "restricted", "R54-season", absent=("R54",),
         statuses={"R54": "not_in_force"}, as_of=date(2026, 8, 1)),
    Case("yangtze_fishing_qinghai", "R44 N7 Art 53 + 002 L358: ten-year ban",
         [QINGHAI, hit("river", "ttr", cls="mainstem", name="通天河", **YANGTZE)],
         {"type": "fishing"}, "prohibited", "R44"),
    Case("yangtze_fishing_before_ban", "R44 ban starts 2021-01-01",
         [QINGHAI, hit("river", "ttr", cls="mainstem", name="通天河", **YANGTZE)],
         {"type": "fishing"}, "clear", absent=("R44",), as_of=date(2020, 12, 31)),
    Case("qinghai_lake_fishing_2031", "R74 Q3 ends 2030-12-31; R75 (002 L358) still bans",
         [QINGHAI, hit("lake", "qhh", cls="lake", name="青海湖", basin="qinghai_lake")],
         {"type": "fishing"}, "prohibited", "R75", absent=("R74",), as_of=date(2031, 1, 1)),
    # --- Plateau, sandy land, glaciers ------------------------------------------------------------
    Case("small_hydro_by_capacity", "R60 N10 Art 45: 20000 kW = 20 MW ≤ 50 MW",
         [QINGHAI], {"type": "hydropower", "capacity": {"value": 20000, "unit": "kW"}},
         "prohibited", "R60-cap"),
    Case("large_hydro_capacity", "R60 N10 Art 45 does not reach 300 MW",
         [QINGHAI], {"type": "hydropower", "capacity": {"value": 300, "unit": "MW"}},
         "clear", absent=("R60-cap",)),
    Case("hydro_capacity_missing", "R60 N10 Art 45: capacity needed to decide",
         [QINGHAI], {"type": "hydropower"}, "caution", "R60-cap", {"R60-cap": "caution"},
         statuses={"R60-cap": "needs_input"}),
    Case("small_hydro_guizhou", "R60 is a Plateau rule: not in Guizhou",
         [GUIZHOU], {"type": "small_hydropower"}, "clear", absent=("R60",),
         statuses={"R60": "not_applicable"}),
    Case("glacier_mining_after", "R07 N10 Art 20 (in force 2023-09-01)",
         [QINGHAI, hit("glacier", "g1", name="冰川")], {"type": "mining"}, "prohibited", "R07"),
    Case("glacier_mining_before", "R07 N10 not yet in force on 2023-08-31",
         [QINGHAI, hit("glacier", "g1", name="冰川")], {"type": "mining"}, "clear",
         absent=("R07",), as_of=date(2023, 8, 31)),
    Case("sandy_closed_road", "R77 防沙治沙法 Art 22: road needs State Council consent",
         [QINGHAI, hit("sandy_land", "s1", cls="closed_protection")], {"type": "road"},
         "restricted", "R77-closed", {"R77-closed": "restricted"}),
    # --- Qinghai plan / seeds ------------------------------------------------------------------
    Case("solar_gonghe", "R79 000_fbf2640031cf10ed.txt L70",
         [QINGHAI, hit("security_pattern", "z3", cls="governance_zone", name="泛共和盆地生态保护修复区")],
         {"type": "solar_pv"}, "caution", "R79", {"R79": "caution"}),
    Case("urban_outside_space", "R70 002_583ab5816dc09616.txt L264",
         [QINGHAI], {"type": "urban_development"}, "prohibited", "R70"),
    Case("urban_inside_space", "R70 002 L264: inside 城镇空间 is allowed",
         [QINGHAI, hit("urban_space", "u1", cls="urban", name="西宁市城镇开发边界")],
         {"type": "urban_development"}, "clear", absent=("R70",)),
    Case("urban_outside_guizhou", "R70 is a Qinghai plan rule",
         [GUIZHOU], {"type": "urban_development"}, "clear", absent=("R70",)),
    Case("muli_coal", "R73 000 L64 / 004 L15", [QINGHAI, hit("mining_rectification", "muli", name="木里矿区")],
         {"type": "coal_mining"}, "prohibited", "R73"),
    Case("boiler_in_town", "R83 002 L574: 8 t/h coal boiler in a built-up area",
         [QINGHAI, hit("urban_space", "u1", cls="urban")],
         {"type": "coal_boiler", "capacity": {"value": 8, "unit": "t/h"}}, "prohibited", "R83"),
    Case("water_cap_over", "R82 002 L524", [QINGHAI, hit("water_use_control", "wc", cls="over_cap")],
         {"type": "water_withdrawal"}, "restricted", "R82"),
    # --- Guizhou and 三线一单 --------------------------------------------------------------------
    Case("wujiang_phosphorus", "R91 003_fb48caf609e33aed.txt L74",
         [GUIZHOU, hit("river_basin", "wjb", cls="sub_basin", name="乌江流域", basin="yangtze")],
         {"type": "phosphorus_chemical"}, "restricted", "R91"),
    Case("chishui_baijiu", "R92 003 L74", [GUIZHOU, hit("river_basin", "csb", cls="sub_basin", name="赤水河流域", basin="yangtze")],
         {"industry_code": "C1512"}, "restricted", "R92-baijiu"),
    Case("priority_unit_industry", "R100 N12/N13: priority unit, industrial project",
         [QINGHAI, hit("control_unit", "ZH63010210001", cls="priority_protection", name="某优先保护单元")],
         {"type": "industrial_general"}, "caution", "R100-priority"),
    # --- Coverage -------------------------------------------------------------------------------
    Case("no_coverage_redline", "§4.2: red line layer does not cover the site",
         [QINGHAI], {"type": "road"}, "insufficient_data", no_data=("ecological_red_line",),
         missing_kinds=("ecological_red_line",), statuses={"R02": "no_data"}),
    Case("no_coverage_still_prohibited", "§4.2: a missing layer cannot lift a prohibition",
         [QINGHAI, hit("ecological_red_line", "rl1")], {"type": "chemical"}, "prohibited", "R02",
         no_data=("drinking_water_source",)),
    Case("all_covered_clear", "§4.2: clear only when every relevant layer covers the site",
         [QINGHAI], {"type": "solar_pv"}, "clear"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, rulebook) -> None:
    sp = spatial(rulebook, case.hits, no_data=case.no_data)
    project = ProjectSpec.model_validate(case.project) if case.project is not None else None
    ev = evaluate(None, sp, project, rulebook, case.as_of)
    found = {f.rule_id: f.effect for f in ev.findings}
    assert ev.verdict == case.verdict, (case.cites, found, ev.governing.why)
    if case.governing is not None:
        assert ev.governing.rule_id == case.governing, (case.cites, ev.governing)
    for rid, effect in case.effects.items():
        assert found.get(rid) == effect, (case.cites, rid, found)
    for rid in case.absent:
        assert rid not in found, (case.cites, rid, found)
    states = {s.rule_id: s.status for s in ev.statuses}
    for rid, st in case.statuses.items():
        assert states.get(rid) == st, (case.cites, rid, states.get(rid))
    for kind in case.missing_kinds:
        assert kind in ev.missing_kinds
    assert ev.governing.why


def test_absent_layer_kind_is_insufficient(rulebook) -> None:
    """A relevant kind with no layer at all (not just no coverage) → insufficient_data."""
    sp = spatial(rulebook, [QINGHAI], absent=("drinking_water_source",))
    ev = evaluate(None, sp, ProjectSpec(type="wind"), rulebook, D)
    assert ev.verdict == "insufficient_data"
    assert "drinking_water_source" in ev.missing_kinds


def test_findings_carry_basis_and_hit_refs(rulebook) -> None:
    sp = spatial(rulebook, [QINGHAI, hit("ecological_red_line", "rl7")])
    ev = evaluate(None, sp, ProjectSpec(type="chemical"), rulebook, D)
    r02 = next(f for f in ev.findings if f.rule_id == "R02")
    assert r02.hit_refs == ["l_ecological_red_line/rl7"]
    assert any(b.number == "自然资发〔2022〕142号" for b in r02.basis)
    assert r02.title_zh and r02.explanation


def test_exception_does_not_lift_other_regime_why(rulebook) -> None:
    sp = spatial(rulebook, [QINGHAI, hit("ecological_red_line", "rl1"),
                            hit("nature_reserve", "nr1", cls="buffer")])
    ev = evaluate(None, sp, ProjectSpec(type="tourism_facility"), rulebook, D)
    assert "R02" in ev.governing.why and "do not lift" in ev.governing.why


def test_river_distances_feed_shoreline_rules(rulebook) -> None:
    """RiverDistance entries (not only hits) trigger distance rules."""
    from zoning.result import RiverDistance

    sp = spatial(rulebook, [GUIZHOU])
    sp.rivers = [RiverDistance(layer="l_river", river="乌江", level="important_tributary",
                               basin="yangtze", distance_m=800, feature_id="wj")]
    ev = evaluate(None, sp, ProjectSpec(type="tailings_pond"), rulebook, D)
    assert ev.verdict == "prohibited" and ev.governing.rule_id == "R41-trib"


def test_unknown_project_type_names_known(rulebook) -> None:
    from zoning.errors import UnknownProjectTypeError

    with pytest.raises(UnknownProjectTypeError) as exc:
        evaluate(None, spatial(rulebook, []), ProjectSpec(type="nuclear_fusion"), rulebook, D)
    assert "chemical" in (exc.value.hint or "")
    assert exc.value.field == "project.type"


def test_evaluation_is_json_serialisable(rulebook) -> None:
    sp = spatial(rulebook, [QINGHAI, hit("ecological_red_line", "rl1")])
    ev = evaluate(None, sp, None, rulebook, D)
    assert ev.model_dump_json()
