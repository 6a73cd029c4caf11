"""Invariants of the verdict over random sites, projects and dates (hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.kinds import load_kinds
from tests.zoning.rules._rules_helpers import GUIZHOU, QINGHAI, hit, spatial
from zoning.rules import ProjectSpec, evaluate, load_rulebook

RB = load_rulebook()
KINDS = load_kinds().kinds
RULE_KINDS = sorted(RB.kinds - {"admin"})


@st.composite
def a_hit(draw):
    kind = draw(st.sampled_from(RULE_KINDS))
    classes = list(KINDS[kind].classes) or [None]
    return hit(
        kind,
        draw(st.text("abc", min_size=1, max_size=3)),
        d=draw(st.sampled_from([0.0, 500.0, 999.0, 1001.0, 2999.0, 4000.0])),
        cls=draw(st.sampled_from(classes)),
        name=draw(st.sampled_from(["黄河", "乌江", "青海湖", "泛共和盆地", "三江源", "赤水河流域", "x"])),
        basin=draw(st.sampled_from(["yellow", "yangtze", "inland"])),
        park_status=draw(st.sampled_from(["established", "candidate"])),
    )


projects = st.one_of(
    st.none(),
    st.builds(
        ProjectSpec,
        type=st.sampled_from(sorted(RB.taxonomy.types)),
        phase=st.sampled_from(["new", "expansion", "reconstruction", "existing"]),
        national_major_category=st.one_of(st.none(), st.integers(1, 7)),
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hits=st.lists(a_hit(), max_size=6),
    province=st.sampled_from([QINGHAI, GUIZHOU]),
    project=projects,
    no_data=st.lists(st.sampled_from(RULE_KINDS), max_size=2, unique=True),
    as_of=st.dates(min_value=date(2019, 1, 1), max_value=date(2032, 12, 31)),
)
def test_verdict_invariants(hits, province, project, no_data, as_of) -> None:
    sp = spatial(RB, [province, *hits], no_data=tuple(no_data))
    ev = evaluate(None, sp, project, RB, as_of)
    effects = {f.effect for f in ev.findings if f.status != "no_data"}
    # 1. prohibited iff some finding prohibits
    assert (ev.verdict == "prohibited") == ("prohibited" in effects)
    # 2. never clear with findings or with missing data
    if ev.verdict == "clear":
        assert not ev.findings and not ev.missing_kinds
    # 3. an exception is never "clear"
    if "permitted_exception" in effects:
        assert ev.verdict in ("prohibited", "restricted", "insufficient_data")
    # 4. missing data and no prohibition → insufficient_data, unless a restriction was found and
    #    no rule blocked by the missing data could prohibit (then the restriction stands)
    if ev.missing_kinds and "prohibited" not in effects:
        assert ev.verdict in ("insufficient_data", "restricted")
        if ev.verdict == "restricted":
            assert effects & {"restricted", "permitted_exception"}
            blocked = {s.rule_id for s in ev.statuses if s.status == "no_data"}
            assert all(RB.rule(rid).effect != "prohibited" for rid in blocked if RB.rule(rid).requires_coverage)
    # 5. every finding's rule is in force and every finding cites a basis
    for f in ev.findings:
        assert f.basis
    for s in ev.statuses:
        if s.status == "not_in_force":
            assert s.rule_id not in {f.rule_id for f in ev.findings}
    # 6. governing names a finding unless clear or insufficient without findings
    if ev.verdict in ("prohibited", "restricted", "caution"):
        assert ev.governing.rule_id in {f.rule_id for f in ev.findings}
