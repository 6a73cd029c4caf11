"""Apply the rulebook to one site's spatial result and one project: findings, verdict, governing.

Pure by design (no I/O, no clock): the same inputs always give the same answer, so a stored
result can be re-derived, and tests need nothing but hand-built ``Hit`` objects.

Verdict (domain.md §4; documented in docs/rules.md):
1. any ``prohibited`` finding → ``prohibited`` (a missing layer cannot lift a prohibition);
2. else any ``restricted`` or ``permitted_exception`` finding → ``restricted`` (an exception is an
   allowance that still needs approval or 认定, so it must never read "clear") — unless a rule that
   could not be checked for lack of data could *prohibit* the project: then the missing data
   decides (3); rules blocked by missing data that could at most restrict are named in
   ``governing.why`` but do not hide the restriction;
3. else any relevant rule without data at the site → ``insufficient_data`` (a soft ``caution``
   must not hide that a layer is missing);
4. else any ``caution`` → ``caution``; else ``clear``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from zoning.result import Finding, Governing, Hit, LayerCoverage, RiverDistance
from zoning.rules.loader import Rulebook
from zoning.rules.models import (
    Evaluation,
    ProjectSelector,
    ProjectSpec,
    Rule,
    RuleException,
    RuleStatus,
    ZoneSelector,
)
from zoning.rules.units import convert

_RANK = {"prohibited": 4, "restricted": 3, "permitted_exception": 2, "caution": 1}
_CONF = {"H": 0, "M": 1, "U": 2, None: 3}


class SpatialLike(Protocol):
    """What the evaluator reads from ``zoning.result.SpatialResult`` (or any look-alike)."""

    # Read-only properties so that list-typed models (SpatialResult) satisfy the protocol.
    @property
    def hits(self) -> Sequence[Hit]: ...
    @property
    def coverage(self) -> Sequence[LayerCoverage]: ...
    @property
    def rivers(self) -> Sequence[RiverDistance]: ...


@dataclass(frozen=True)
class _Project:
    """A resolved project: type id, its groups and codes, plus the caller's attributes."""

    type_id: str | None
    groups: frozenset[str]
    codes: tuple[str, ...]
    spec: ProjectSpec | None


@dataclass
class _Outcome:
    """Internal result of one rule: a finding (or None) and the per-rule state."""

    status: str
    reason: str
    finding: Finding | None = None
    missing_kind: str | None = None
    min_distance: float = 0.0
    confidence: str | None = None


def evaluate(
    site: Any,
    spatial: SpatialLike,
    project: ProjectSpec | None,
    rulebook: Rulebook,
    as_of: date,
) -> Evaluation:
    """Evaluate every rule in force on ``as_of`` for this site and project.

    Parameters
    ----------
    site:
        The parsed ``zoning.site.Site``; only kept for the signature of the contract (the spatial
        result already holds every measurement the rules use).
    spatial:
        ``SpatialResult`` with ``hits``, ``coverage`` (with ``kind``), ``rivers``.
    project:
        The request's project, or ``None`` for zone-level findings (what is prohibited here at
        all, for any project type).
    rulebook:
        From ``load_rulebook()``.
    as_of:
        Date the rules must be in force on.

    Raises ``UnknownProjectTypeError`` for an unknown type or code.
    """
    del site  # measurements come through `spatial`
    proj = _resolve(project, rulebook)
    hits = _candidates(spatial)
    kind_state = _kind_coverage(spatial)
    provinces = _provinces(hits)
    by_kind: dict[str, list[Hit]] = {}
    for h in hits:
        by_kind.setdefault(h.layer_kind, []).append(h)
    site_basins = {
        str(h.attributes.get("basin"))
        for h in hits
        if h.layer_kind == "river_basin" and h.distance_m == 0 and h.attributes.get("basin")
    }

    outcomes: list[tuple[Rule, _Outcome]] = []
    for rule in rulebook.rules:
        outcomes.append(
            (rule, _evaluate_rule(rule, by_kind, kind_state, provinces, site_basins, proj, as_of))
        )

    findings = [o.finding for _, o in outcomes if o.finding is not None]
    statuses = [RuleStatus(rule_id=r.id, status=o.status, reason=o.reason) for r, o in outcomes]  # type: ignore[arg-type]
    missing = sorted({o.missing_kind for _, o in outcomes if o.missing_kind})
    # The rule that most needs the missing data first: the strictest effect, a zone's own law
    # before overlay rules, then rulebook order.
    blocked = [
        (i, r) for i, (r, o) in enumerate(outcomes) if o.status == "no_data" and r.requires_coverage
    ]
    blocked.sort(key=lambda ir: (-_RANK[ir[1].effect], bool(ir[1].also_within), ir[0]))
    no_data_rules = [r.id for _, r in blocked]
    unknown_rank = max((_RANK[r.effect] for _, r in blocked), default=0)
    verdict, governing = _decide(outcomes, no_data_rules, missing, proj, unknown_rank)
    findings.sort(key=lambda f: (-_RANK[f.effect], f.rule_id))
    return Evaluation(
        findings=findings,
        verdict=verdict,  # type: ignore[arg-type]
        governing=governing,
        statuses=statuses,
        missing_kinds=missing,
        project_type=proj.type_id,
    )


# --------------------------------------------------------------------------- inputs


def _resolve(project: ProjectSpec | None, rulebook: Rulebook) -> _Project:
    if project is None:
        return _Project(None, frozenset(), (), None)
    tax = rulebook.taxonomy
    ptype = tax.resolve(project.type, project.industry_code)
    if ptype is None:
        return _Project(None, frozenset(), (), project)
    codes: tuple[str, ...] = tuple(ptype.industry_codes)
    if project.industry_code:
        from zoning.rules.taxonomy import normalise_code

        codes = (normalise_code(project.industry_code), *codes)
    return _Project(ptype.id, frozenset(tax.groups_of(ptype.id)), codes, project)


def _candidates(spatial: SpatialLike) -> list[Hit]:
    """Hits plus river distances as river hits (shoreline rules read both), deduplicated."""
    best: dict[tuple[str, str], Hit] = {}
    for h in spatial.hits:
        key = (h.layer, h.feature_id)
        if key not in best or h.distance_m < best[key].distance_m:
            best[key] = h
    for rd in getattr(spatial, "rivers", []) or []:
        key = (rd.layer, rd.feature_id)
        if key in best and best[key].distance_m <= rd.distance_m:
            continue
        attrs = dict(best[key].attributes) if key in best else {}
        attrs.update({k: v for k, v in (("river", rd.river), ("basin", rd.basin)) if v})
        best[key] = Hit(
            layer=rd.layer,
            layer_kind="river",
            feature_id=rd.feature_id,
            name=rd.river,
            zone_class=rd.level,
            relation="intersects" if rd.distance_m == 0 else "within_buffer",
            distance_m=rd.distance_m,
            overlap_ratio=None,
            band_m=None,
            share=None,
            accuracy=best[key].accuracy if key in best else "unknown",
            attributes=attrs,
        )
    return list(best.values())


def _kind_coverage(spatial: SpatialLike) -> dict[str, str]:
    """Layer kind → 'covered' when any layer of the kind covers the site, else 'no_data'.

    Kinds with no layer at all are absent from the mapping (treated as no data).
    """
    layer_kind = {h.layer: h.layer_kind for h in spatial.hits}
    state: dict[str, str] = {}
    for c in spatial.coverage:
        kind = c.kind or layer_kind.get(c.layer)
        if kind is None:
            continue
        if c.status == "covered":
            state[kind] = "covered"
        else:
            state.setdefault(kind, "no_data")
    return state


def _provinces(hits: Iterable[Hit]) -> set[str] | None:
    """2-digit province prefixes of the admin units the site lies in (None: unknown)."""
    out: set[str] = set()
    for h in hits:
        if h.layer_kind != "admin" or h.distance_m > 0:
            continue
        prefix = province_prefix(h.attributes)
        if prefix:
            out.add(prefix)
    return out or None


def province_prefix(attributes: dict[str, Any]) -> str:
    """Two leading digits of an admin unit's code (adcode, code or county_adcode); "" if none."""
    for key in ("adcode", "code", "county_adcode"):
        v = attributes.get(key)
        if v and re.match(r"^\d{2}", str(v)):
            return str(v)[:2]
    return ""


# --------------------------------------------------------------------------- matching


def zone_matches(sel: ZoneSelector, h: Hit) -> bool:
    """True when a hit is a feature the selector is about."""
    if h.layer_kind != sel.kind:
        return False
    if sel.classes and h.zone_class not in sel.classes:
        return False
    for key, accepted in sel.attributes.items():
        value = h.attributes.get(key)
        if value is None or str(value) not in accepted:
            return False
    if sel.name_patterns:
        texts = [str(t) for t in (h.name, h.attributes.get("river"), h.attributes.get("park")) if t]
        if not any(p.search(t) for p in _compiled(tuple(sel.name_patterns)) for t in texts):
            return False
    return True


@lru_cache(maxsize=1024)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _project_match(sel: ProjectSelector, proj: _Project) -> tuple[bool, str | None]:
    """(matches, needs_input reason). A rule with an empty selector matches every project."""
    spec = proj.spec
    if proj.type_id is None:
        # Zone level: every rule applies, except those reserved for national major projects
        # when the caller did not say the project is one.
        if sel.national_major and not (spec and spec.national_major_category):
            return False, None
        return True, None
    t = proj.type_id
    if t in sel.exclude_types or proj.groups & set(sel.exclude_groups):
        return False, None
    if not sel.is_any:
        named = (
            t in sel.types
            or bool(proj.groups & set(sel.groups))
            or any(c.startswith(p) for c in proj.codes for p in sel.industry_codes)
        )
        if not named:
            return False, None
    if sel.phases and spec is not None and spec.phase not in sel.phases:
        return False, None
    if sel.national_major is not None:
        is_major = spec is not None and spec.national_major_category is not None
        if is_major != sel.national_major:
            return False, None
    if sel.capacity is not None:
        cap = spec.capacity if spec else None
        if cap is None:
            return True, f"give the project capacity in {sel.capacity.unit}"
        value = convert(cap.value, cap.unit, sel.capacity.unit)
        if value is None:
            return True, f"capacity unit {cap.unit!r} cannot be compared with {sel.capacity.unit}"
        if sel.capacity.min is not None and value < sel.capacity.min:
            return False, None
        if sel.capacity.max is not None and value > sel.capacity.max:
            return False, None
    return True, None


def _spatial_hits(
    rule: Rule, by_kind: dict[str, list[Hit]], site_basins: set[str]
) -> tuple[list[Hit], list[Hit]]:
    """(hits that satisfy the rule's spatial condition, hits lacking a distance attribute)."""
    selected = [h for h in by_kind.get(rule.zone.kind, ()) if zone_matches(rule.zone, h)]
    cond = rule.spatial
    if cond.relation in ("intersects", "contains_site"):
        return [h for h in selected if h.distance_m == 0], []
    if cond.relation == "same_basin":
        return [h for h in selected if str(h.attributes.get("basin")) in site_basins], []
    if cond.relation == "within_m":
        fired, unknown = [], []
        for h in selected:
            limit: float | None = cond.distance_m
            if cond.distance_attribute:
                limit = _number(h.attributes.get(cond.distance_attribute))
                if limit is None:
                    if cond.distance_m is None or h.distance_m <= cond.distance_m:
                        unknown.append(h)
                    continue
            if limit is not None and h.distance_m <= limit:
                fired.append(h)
        return fired, unknown
    return [], []  # "outside" is handled by the caller


def _number(raw: Any) -> float | None:
    """A finite number from an attribute value, else None (missing, text, NaN from a table)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _evaluate_rule(
    rule: Rule,
    by_kind: dict[str, list[Hit]],
    kind_state: dict[str, str],
    provinces: set[str] | None,
    site_basins: set[str],
    proj: _Project,
    as_of: date,
) -> _Outcome:
    if not rule.in_force(as_of):
        return _Outcome("not_in_force", f"not in force on {as_of.isoformat()}")
    if rule.provinces and provinces is not None and not provinces & set(rule.provinces):
        return _Outcome("not_applicable", f"applies only in provinces {rule.provinces}")
    ok, needs = _project_match(rule.project, proj)
    if not ok:
        return _Outcome("not_applicable", f"does not concern project type {proj.type_id}")

    # Regime replaced (an established national park's rules replace merged reserves' rules).
    if rule.superseded_in and any(
        zone_matches(rule.superseded_in, h) and h.distance_m == 0
        for h in by_kind.get(rule.superseded_in.kind, ())
    ):
        return _Outcome("superseded", f"replaced inside {rule.superseded_in.kind} by its own rules")

    if rule.also_within and not any(
        zone_matches(z, h) and h.distance_m == 0
        for z in rule.also_within
        for h in by_kind.get(z.kind, ())
    ):
        kinds = [z.kind for z in rule.also_within]
        if not any(kind_state.get(k) == "covered" for k in kinds):
            return _no_data(rule, kinds[0])
        return _Outcome("no_conflict", "the site is not in the overlapping zone")

    coverage = kind_state.get(rule.zone.kind)
    if rule.spatial.relation == "outside":
        if coverage != "covered":
            return _no_data(rule, rule.zone.kind)
        if any(
            zone_matches(rule.zone, h) and h.distance_m == 0
            for h in by_kind.get(rule.zone.kind, ())
        ):
            return _Outcome("no_conflict", f"the site is inside {rule.zone.kind}")
        return _fire(rule, [], proj, needs, "the site lies outside every such zone")

    fired, unknown = _spatial_hits(rule, by_kind, site_basins)
    if fired:
        return _fire(rule, fired, proj, needs, None)
    if unknown:
        return _undetermined(rule, unknown, proj)
    if coverage != "covered":
        return _no_data(rule, rule.zone.kind)
    return _Outcome("no_conflict", "layer covers the site; no matching zone in reach")


def _no_data(rule: Rule, kind: str) -> _Outcome:
    return _Outcome(
        "no_data",
        f"no {kind} layer covers the site",
        missing_kind=kind if rule.requires_coverage else None,
    )


def _first_exception(rule: Rule, proj: _Project) -> RuleException | None:
    if proj.type_id is None and proj.spec is None:
        return None
    for exc in rule.exceptions:
        if proj.type_id is None and not exc.when.is_any:
            continue
        ok, _ = _project_match(exc.when, proj)
        if ok:
            return exc
    return None


def _refs(hits: list[Hit]) -> list[str]:
    return sorted({f"{h.layer}/{h.feature_id}" for h in hits})


def _label(h: Hit) -> str:
    """Zone name with its code when it has one (control units: the ZH code)."""
    code = h.attributes.get("code")
    name = h.name or h.feature_id
    return f"{name} [{code}]" if code and str(code) not in name else name


def _where(hits: list[Hit]) -> str:
    names = sorted({_label(h) for h in hits})
    if not hits:
        return ""
    d = min(h.distance_m for h in hits)
    dist = "" if d == 0 else f" ({d:.0f} m away)"
    return f" Zone: {', '.join(names[:5])}{dist}."


def _fire(
    rule: Rule, fired: list[Hit], proj: _Project, needs: str | None, note: str | None
) -> _Outcome:
    """Finding for a triggered rule, with an exception or needs-input downgrade applied."""
    exc = _first_exception(rule, proj)
    where = _where(fired) + (f" {note}." if note else "")
    basis = [b.to_result() for b in rule.basis]
    conditions = list(rule.conditions)
    min_d = min((h.distance_m for h in fired), default=0.0)
    conf = min((b.confidence for b in rule.basis), key=lambda c: _CONF[c])
    rough = sorted({h.accuracy for h in fired if h.accuracy in ("illustrative", "approximate")})
    notes = (
        [f"Zone boundary is {'/'.join(rough)}: confirm against the official 一张图 data."]
        if rough
        else []
    )
    conditions += notes
    if proj.type_id is None:
        # Zone level: say what the rule sets, and which exceptions exist.
        conditions += [f"Exception ({e.effect}): {e.title_en}" for e in rule.exceptions]
    if needs:
        f = Finding(
            rule_id=rule.id,
            effect="caution",
            title=rule.title_en,
            title_zh=rule.title_zh,
            explanation=f"{rule.explanation_en}{where} Needs input: {needs}.",
            explanation_zh=rule.explanation_zh,
            conditions=conditions,
            basis=basis,
            hit_refs=_refs(fired),
            status="needs_input",
        )
        return _Outcome("needs_input", needs, f, min_distance=min_d, confidence=conf)
    if exc is not None:
        status: str = "exception_possible" if exc.effect == "permitted_exception" else exc.effect
        f = Finding(
            rule_id=exc.id or rule.id,
            effect=exc.effect,
            title=exc.title_en,
            title_zh=exc.title_zh,
            explanation=(
                f"{rule.explanation_en}{where} This project falls under an exception "
                f"({exc.title_en}); it still needs the approvals listed."
            ),
            explanation_zh=f"{rule.explanation_zh} 本项目属于例外情形：{exc.title_zh}。",
            conditions=list(exc.conditions) + notes,
            basis=[b.to_result() for b in exc.basis] + basis,
            hit_refs=_refs(fired),
            status=status,
        )
        reason = f"exception {exc.id or ''} {exc.title_en}".strip()
        return _Outcome(status, reason, f, min_distance=min_d, confidence=conf)
    status = rule.effect if proj.type_id else "zone_level"
    f = Finding(
        rule_id=rule.id,
        effect=rule.effect,
        title=rule.title_en,
        title_zh=rule.title_zh,
        explanation=f"{rule.explanation_en}{where}",
        explanation_zh=rule.explanation_zh,
        conditions=conditions,
        basis=basis,
        hit_refs=_refs(fired),
        status=status,
    )
    state = "exception_possible" if rule.effect == "permitted_exception" else rule.effect
    return _Outcome(state, "triggered", f, min_distance=min_d, confidence=conf)


def _undetermined(rule: Rule, unknown: list[Hit], proj: _Project) -> _Outcome:
    """A distance rule whose threshold the data lacks (e.g. an unpublished shoreline range)."""
    attr = rule.spatial.distance_attribute
    f = Finding(
        rule_id=rule.id,
        effect="caution",
        title=rule.title_en,
        title_zh=rule.title_zh,
        explanation=(
            f"{rule.explanation_en}{_where(unknown)} The control range ({attr}) is not in the "
            "data for this feature, so whether the site lies inside it cannot be decided; "
            "obtain the published range before relying on this result."
        ),
        explanation_zh=rule.explanation_zh,
        conditions=list(rule.conditions),
        basis=[b.to_result() for b in rule.basis],
        hit_refs=_refs(unknown),
        status="no_data",
    )
    return _Outcome(
        "no_data",
        f"{attr} missing on {', '.join(_refs(unknown))}",
        f,
        missing_kind=f"{rule.zone.kind}.{attr}" if rule.requires_coverage else None,
        min_distance=min(h.distance_m for h in unknown),
    )


# --------------------------------------------------------------------------- verdict


def _decide(
    outcomes: list[tuple[Rule, _Outcome]],
    no_data_rules: list[str],
    missing: list[str],
    proj: _Project,
    unknown_rank: int = 0,
) -> tuple[str, Governing]:
    decisive = [
        (r, o)
        for r, o in outcomes
        if o.finding is not None and o.finding.status not in ("no_data",)
    ]
    decisive.sort(
        key=lambda ro: (
            -_RANK[ro[1].finding.effect],  # type: ignore[union-attr]
            ro[0].zone.kind
            == "admin",  # a zone-specific rule explains more than a province-wide one
            bool(ro[0].also_within),  # overlay rules (R01, R03) defer to the zone's own law
            _CONF[ro[1].confidence],
            ro[1].min_distance,
            ro[1].finding.rule_id,  # type: ignore[union-attr]
        )
    )
    superseded = [r.id for r, o in outcomes if o.status == "superseded"]
    exceptions = [
        o.finding.rule_id
        for _, o in decisive
        if o.finding is not None and o.finding.effect == "permitted_exception"
    ]
    scope = (
        "No project type was given, so findings are zone-level: the verdict is the strictest "
        "effect any rule sets here for some kind of project. "
        if proj.type_id is None
        else ""
    )
    tail = ""
    if superseded:
        tail += f" Rules {', '.join(superseded)} are replaced here by national-park rules."

    top = decisive[0] if decisive else None
    if top and top[1].finding.effect == "prohibited":  # type: ignore[union-attr]
        f = top[1].finding
        assert f is not None
        others = [o.finding.rule_id for _, o in decisive[1:] if o.finding.effect == "prohibited"]  # type: ignore[union-attr]
        why = (
            f"{scope}{f.rule_id} ({f.title}) prohibits it; the strictest applicable effect wins "
            "(domain.md §4.1)."
        )
        if others:
            why += f" Also prohibited by {', '.join(others)}."
        if exceptions:
            why += (
                f" The exception(s) under {', '.join(exceptions)} belong to another regime and do "
                "not lift this prohibition."
            )
        if no_data_rules:
            why += f" Some layers have no data here ({', '.join(missing)}); they cannot lift it."
        return "prohibited", Governing(rule_id=f.rule_id, why=why + tail)
    f = top[1].finding if top is not None else None
    # A missing layer decides only if a rule it blocks could be stricter than what was found.
    if (
        f is not None
        and f.effect in ("restricted", "permitted_exception")
        and unknown_rank <= _RANK["restricted"]
    ):
        why = (
            f"{scope}{f.rule_id} ({f.title}) allows it only under conditions or approval; no rule "
            "prohibits it."
        )
        if f.effect == "permitted_exception":
            why += " A permitted exception still needs approval, so the verdict is restricted."
        if no_data_rules:
            why += (
                f" Some layers have no data here ({', '.join(missing)}), so rules "
                f"{', '.join(no_data_rules[:8])}{' …' if len(no_data_rules) > 8 else ''} could not "
                "be checked: confirm them before relying on this verdict."
            )
        return "restricted", Governing(rule_id=f.rule_id, why=why + tail)
    if no_data_rules:
        first = no_data_rules[0]
        top_finding = top[1].finding if top else None
        found = (
            f" Findings so far: strongest {top_finding.effect} ({top_finding.rule_id})."
            if top_finding is not None
            else ""
        )
        why = (
            f"{scope}Relevant data is missing at the site ({', '.join(missing)}); rules "
            f"{', '.join(no_data_rules[:8])}{' …' if len(no_data_rules) > 8 else ''} cannot be "
            f"checked, so the site cannot be called clear.{found}"
        )
        return "insufficient_data", Governing(rule_id=first, why=why + tail)
    if f is None:
        return "clear", Governing(
            rule_id=None,
            why=f"{scope}Every relevant layer covers the site and no rule applies.{tail}",
        )
    return "caution", Governing(
        rule_id=f.rule_id,
        why=f"{scope}{f.rule_id} ({f.title}) is a policy flag; no rule prohibits or restricts it.{tail}",
    )
