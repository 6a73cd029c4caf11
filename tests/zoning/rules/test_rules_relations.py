"""Spatial relations and evaluator details not covered row-by-row in the case table."""

from __future__ import annotations

import dataclasses
from datetime import date

from tests.zoning.rules._rules_helpers import QINGHAI, hit, spatial
from zoning.rules import ProjectSpec, evaluate
from zoning.rules.models import Rule

D = date(2026, 11, 1)


def _one_rule(rulebook, **fields):
    base = {
        "id": "R999",
        "title_zh": "测试", "title_en": "test", "explanation_zh": "测试", "explanation_en": "test",
        "effect": "prohibited",
        "basis": [{"document": "test", "confidence": "U"}],
    }
    rule = Rule.model_validate(base | fields)
    return dataclasses.replace(rulebook, rules=(rule,), rule_family={"R999": "test"})


def test_same_basin(rulebook) -> None:
    """A water-source zone 40 km away counts when the site lies in the same basin polygon."""
    rb = _one_rule(rulebook, zone={"kind": "drinking_water_source"}, spatial={"relation": "same_basin"})
    source = hit("drinking_water_source", "w1", d=40000, cls="grade2", basin="yellow")
    inside = spatial(rb, [hit("river_basin", "b1", cls="basin", basin="yellow"), source])
    other = spatial(rb, [hit("river_basin", "b2", cls="basin", basin="yangtze"), source])
    assert evaluate(None, inside, None, rb, D).verdict == "prohibited"
    assert evaluate(None, other, None, rb, D).verdict == "clear"


def test_outside_needs_coverage(rulebook) -> None:
    rb = _one_rule(rulebook, zone={"kind": "urban_space"}, spatial={"relation": "outside"})
    assert evaluate(None, spatial(rb, []), None, rb, D).verdict == "prohibited"
    assert evaluate(None, spatial(rb, [], no_data=("urban_space",)), None, rb, D).verdict == "insufficient_data"
    inside = spatial(rb, [hit("urban_space", "u", cls="urban")])
    assert evaluate(None, inside, None, rb, D).verdict == "clear"


def test_nan_distance_attribute_is_missing(rulebook) -> None:
    """A NaN from a table is 'not published', not 'zero metres'."""
    river = hit("river", "hh", d=300, cls="mainstem", basin="yellow", shoreline_control_m=float("nan"))
    ev = evaluate(None, spatial(rulebook, [QINGHAI, river]), ProjectSpec(type="chemical"), rulebook, D)
    assert ev.verdict == "insufficient_data"
    assert {s.rule_id: s.status for s in ev.statuses}["R50"] == "no_data"


def test_illustrative_boundary_is_flagged(rulebook) -> None:
    ev = evaluate(None, spatial(rulebook, [QINGHAI, hit("ecological_red_line", "r")]),
                  ProjectSpec(type="road"), rulebook, D)
    r02 = next(f for f in ev.findings if f.rule_id == "R02")
    assert any("illustrative" in c for c in r02.conditions)


def test_zone_level_lists_exceptions(rulebook) -> None:
    ev = evaluate(None, spatial(rulebook, [QINGHAI, hit("ecological_red_line", "r")]), None, rulebook, D)
    r02 = next(f for f in ev.findings if f.rule_id == "R02")
    assert r02.status == "zone_level"
    assert any("RL1–RL10" in c for c in r02.conditions)
    assert "zone-level" in ev.governing.why


def test_superseded_rules_named_in_why(rulebook) -> None:
    hits = [QINGHAI, hit("national_park", "p", cls="general_control", park_status="established"),
            hit("nature_reserve", "n", cls="experimental")]
    ev = evaluate(None, spatial(rulebook, hits), ProjectSpec(type="wind"), rulebook, D)
    assert "R24-other" in ev.governing.why and "national-park" in ev.governing.why


def test_pure_same_input_same_output(rulebook) -> None:
    sp = spatial(rulebook, [QINGHAI, hit("ecological_red_line", "r")])
    a = evaluate(None, sp, ProjectSpec(type="road"), rulebook, D)
    b = evaluate(None, sp, ProjectSpec(type="road"), rulebook, D)
    assert a == b


def test_province_rules_work_with_county_admin_units(rulebook) -> None:
    """Province-wide rules (R60) need only some admin unit of the province around the site."""
    county = hit("admin", "632123", cls="county", name="乐都区", code="632123")
    sp = spatial(rulebook, [county])
    ev = evaluate(None, sp, ProjectSpec(type="small_hydropower"), rulebook, D)
    assert ev.verdict == "prohibited" and ev.governing.rule_id == "R60"


def test_control_unit_finding_names_unit_code(rulebook) -> None:
    unit = hit("control_unit", "u1", cls="key_control", name="西宁市重点管控单元", code="ZH63010420001")
    ev = evaluate(None, spatial(rulebook, [QINGHAI, unit]), ProjectSpec(type="metallurgy"), rulebook, D)
    f = next(f for f in ev.findings if f.rule_id == "R100-key")
    assert "ZH63010420001" in f.explanation
    assert any(c.startswith("污染物排放管控") for c in f.conditions)
