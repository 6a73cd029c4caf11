"""Load and validate the rulebook: project taxonomy, rule files, cross-references.

Why cross-checks beyond the pydantic schema: a rule may be well-formed YAML and still point at a
layer kind, zone class or project type that does not exist; such a rule would never fire and the
service would say "clear" where it should say "prohibited". Every such reference is checked here
and a bad one stops loading with the file, the rule id and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from layers.kinds import KindsFile, load_kinds
from zoning.errors import RulebookError
from zoning.rules.models import (
    ProjectSelector,
    Rule,
    RuleFile,
    TaxonomyFile,
    ZoneSelector,
)
from zoning.rules.taxonomy import Taxonomy, normalise_code
from zoning.rules.units import unit_factor

DATA_DIR = Path(__file__).with_name("data")
# libyaml's safe loader when available: the same safe subset, ~10x faster than pure Python
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Rulebook:
    """Every rule, the taxonomy and the version; immutable once loaded."""

    version: str
    semver: str
    rules: tuple[Rule, ...]
    families: dict[str, str]
    rule_family: dict[str, str]
    taxonomy: Taxonomy

    @property
    def max_distance_m(self) -> float:
        """Largest fixed search distance any rule needs; pass it to the engine as ``search_m``."""
        return max((r.max_distance() for r in self.rules), default=0.0)

    @property
    def kinds(self) -> set[str]:
        """Layer kinds the rulebook reads."""
        out = set()
        for r in self.rules:
            out.add(r.zone.kind)
            out.update(z.kind for z in r.also_within)
        return out

    def rule(self, rule_id: str) -> Rule:
        """The rule with that id (``KeyError`` if absent)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def in_force(self, as_of: date) -> list[Rule]:
        """Rules whose effective dates include ``as_of``."""
        return [r for r in self.rules if r.in_force(as_of)]

    def listing(
        self,
        *,
        kind: str | None = None,
        effect: str | None = None,
        type: str | None = None,
        q: str | None = None,
        family: str | None = None,
        as_of: date | None = None,
    ) -> list[dict[str, Any]]:
        """JSON-ready rule list for ``GET /v1/rules`` (filters are ANDed).

        ``kind``: layer kind of the zone; ``effect``: the rule's effect or one of its exceptions';
        ``type``: a project type id the rule (or an exception) concerns, any-project rules
        included; ``q``: text in id, titles or explanations; ``family``: rule file family;
        ``as_of``: only rules in force on that date.
        """
        ptype = self.taxonomy.get(type) if type else None
        out = []
        for r in self.rules:
            if kind and r.zone.kind != kind and all(z.kind != kind for z in r.also_within):
                continue
            if effect and r.effect != effect and all(e.effect != effect for e in r.exceptions):
                continue
            if family and self.rule_family[r.id] != family:
                continue
            if as_of and not r.in_force(as_of):
                continue
            if ptype and not any(
                selector_names_type(sel, ptype.id, self.taxonomy)
                for sel in (r.project, *(e.when for e in r.exceptions))
            ):
                continue
            if q and not _text_match(q, r):
                continue
            row = r.model_dump(mode="json", exclude_none=True)
            row["family"] = self.rule_family[r.id]
            out.append(row)
        return out

    def summary(self) -> dict[str, Any]:
        """Version, families and counts (for ``/healthz`` and the rules endpoint header)."""
        return {
            "version": self.version,
            "semver": self.semver,
            "families": self.families,
            "rule_count": len(self.rules),
            "max_distance_m": self.max_distance_m,
            "taxonomy_version": self.taxonomy.version,
        }


def selector_names_type(sel: ProjectSelector, type_id: str, taxonomy: Taxonomy) -> bool:
    """True when the selector concerns ``type_id`` by type, group or code (or any project)."""
    if type_id in sel.exclude_types or any(
        type_id in taxonomy.groups[g] for g in sel.exclude_groups
    ):
        return False
    if sel.is_any:
        return True
    if type_id in sel.types or any(type_id in taxonomy.groups[g] for g in sel.groups):
        return True
    codes = taxonomy.types[type_id].industry_codes
    return any(c.startswith(p) or p.startswith(c) for c in codes for p in sel.industry_codes)


def _text_match(q: str, r: Rule) -> bool:
    needle = q.casefold()
    hay = (r.id, r.title_zh, r.title_en, r.explanation_zh, r.explanation_en, *r.conditions)
    return any(needle in s.casefold() for s in hay)


# --------------------------------------------------------------------------- loading


def load_rulebook(path: Path | str | None = None, kinds: KindsFile | None = None) -> Rulebook:
    """Load ``<path>/project_types.yaml``, ``<path>/rulebook.yaml`` and ``<path>/rules/*.yaml``.

    ``path`` defaults to the packaged ``zoning/rules/data``. Any error raises ``RulebookError``
    naming the file, the rule id and the field, so the service refuses to start on a bad rule.
    The version is ``<semver>+<sha256 of all files, 12 hex>``: the semantic version says what
    changed in meaning, the hash pins exactly which bytes were evaluated.
    """
    root = Path(path) if path is not None else DATA_DIR
    kinds = kinds or load_kinds()
    digest = hashlib.sha256()

    head_file = root / "rulebook.yaml"
    head = _read_yaml(head_file, digest)
    semver = str(head.get("version", "")) if isinstance(head, dict) else ""
    if not semver:
        raise RulebookError(f"{head_file}: missing 'version'", field="version")

    tax_file = root / "project_types.yaml"
    raw_tax = _read_yaml(tax_file, digest)
    try:
        tax_data = TaxonomyFile.model_validate(raw_tax)
    except ValidationError as exc:
        raise RulebookError(f"{tax_file}: {_describe(exc, raw_tax)}", field="project_types") from exc
    taxonomy = Taxonomy.from_file(tax_data, str(tax_file))

    rule_files = sorted((root / "rules").glob("*.yaml"))
    if not rule_files:
        raise RulebookError(f"no rule files in {root / 'rules'}")
    rules: list[Rule] = []
    families: dict[str, str] = {}
    rule_family: dict[str, str] = {}
    for f in rule_files:
        raw = _read_yaml(f, digest)
        if isinstance(raw, dict):
            defaults = raw.get("defaults") or {}
            for r in raw.get("rules") or []:
                if isinstance(r, dict):
                    for key, value in defaults.items():
                        r.setdefault(key, value)
        try:
            rf = RuleFile.model_validate(raw)
        except ValidationError as exc:
            raise RulebookError(f"{f.name}: {_describe(exc, raw)}", field="rules") from exc
        if rf.family in families:
            raise RulebookError(f"{f.name}: family {rf.family!r} also defined in another file")
        families[rf.family] = rf.version
        for rule in rf.rules:
            if rule.id in rule_family:
                raise RulebookError(
                    f"{f.name}: rule {rule.id}: id already used in family {rule_family[rule.id]!r}",
                    field="id",
                )
            _check_rule(rule, f.name, kinds, taxonomy)
            rule_family[rule.id] = rf.family
            for e in rule.exceptions:
                if e.id:
                    rule_family.setdefault(e.id, rf.family)
            rules.append(rule)
    return Rulebook(
        version=f"{semver}+{digest.hexdigest()[:12]}",
        semver=semver,
        rules=tuple(rules),
        families=families,
        rule_family=rule_family,
        taxonomy=taxonomy,
    )


def _read_yaml(path: Path, digest: Any) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(f"cannot read rule file {path}: {exc}") from exc
    digest.update(path.name.encode() + b"\0" + data + b"\0")
    try:
        return yaml.load(data.decode("utf-8"), Loader=_YAML_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RulebookError(f"{path.name}: not valid UTF-8 YAML: {exc}") from exc


def _describe(exc: ValidationError, raw: Any) -> str:
    """First validation error as 'rule R41 field spatial.distance_m: message'."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    prefix = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rid = raw["rules"][loc[1]].get("id", f"#{loc[1] + 1}")
        except (KeyError, IndexError, TypeError, AttributeError):
            rid = f"#{loc[1] + 1}"
        prefix = f"rule {rid} "
        loc = loc[2:]
    where = ".".join(str(p) for p in loc) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see docs/rules.md for the allowed fields)"
    return f"{prefix}field {where}: {msg}"


def _check_rule(rule: Rule, fname: str, kinds: KindsFile, taxonomy: Taxonomy) -> None:
    where = f"{fname}: rule {rule.id}"
    _check_zone(rule.zone, f"{where} field zone", kinds)
    for i, z in enumerate(rule.also_within):
        _check_zone(z, f"{where} field also_within[{i}]", kinds)
    if rule.superseded_in:
        _check_zone(rule.superseded_in, f"{where} field superseded_in", kinds)
    _check_project(rule.project, f"{where} field project", taxonomy)
    for i, e in enumerate(rule.exceptions):
        _check_project(e.when, f"{where} field exceptions[{i}].when", taxonomy)


def _check_zone(z: ZoneSelector, where: str, kinds: KindsFile) -> None:
    if z.kind not in kinds.kinds:
        raise RulebookError(
            f"{where}.kind: unknown layer kind {z.kind!r}",
            field="zone.kind",
            hint=f"use one of layers/kinds.yaml: {', '.join(sorted(kinds.kinds))}",
        )
    known = kinds.kinds[z.kind].classes
    for c in z.classes:
        if c not in known:
            raise RulebookError(
                f"{where}.classes: unknown zone class {c!r} for kind {z.kind!r}",
                field="zone.classes",
                hint=f"canonical classes of {z.kind}: {', '.join(known) or '(none)'}",
            )


def _check_project(sel: ProjectSelector, where: str, taxonomy: Taxonomy) -> None:
    for name in ("types", "exclude_types"):
        for t in getattr(sel, name):
            if t not in taxonomy.types:
                raise RulebookError(
                    f"{where}.{name}: unknown project type {t!r}",
                    field=f"project.{name}",
                    hint=f"known types: {', '.join(taxonomy.known_ids())}",
                )
    for name in ("groups", "exclude_groups"):
        for g in getattr(sel, name):
            if g not in taxonomy.groups:
                raise RulebookError(
                    f"{where}.{name}: unknown project group {g!r}",
                    field=f"project.{name}",
                    hint=f"known groups: {', '.join(sorted(taxonomy.groups))}",
                )
    for c in sel.industry_codes:
        try:
            normalise_code(c)
        except Exception as exc:
            raise RulebookError(f"{where}.industry_codes: {exc}", field="project.industry_codes") from exc
    if sel.capacity and unit_factor(sel.capacity.unit) is None:
        raise RulebookError(
            f"{where}.capacity.unit: unknown unit {sel.capacity.unit!r}",
            field="project.capacity.unit",
        )
