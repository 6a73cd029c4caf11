"""The project taxonomy: project types, type groups and lookup by id or GB/T 4754 code.

Why a class around the data file: requests name a project by id, by an alias from domain.md, by an
industry code ("2614", "C2614") or by both; one place resolves all of these and raises the same
``UnknownProjectTypeError`` (a 4xx naming the known ids) for anything it cannot resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zoning.errors import RulebookError, UnknownProjectTypeError
from zoning.rules.models import ProjectType, TaxonomyFile


@dataclass(frozen=True)
class Taxonomy:
    """Validated project types with resolved group membership."""

    version: str
    types: dict[str, ProjectType]
    groups: dict[str, frozenset[str]]
    group_titles: dict[str, tuple[str, str]]
    _aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, data: TaxonomyFile, source: str) -> Taxonomy:
        """Build from a parsed file; unknown members or cyclic groups raise ``RulebookError``."""
        types: dict[str, ProjectType] = {}
        aliases: dict[str, str] = {}
        for t in data.types:
            if t.id in types:
                raise RulebookError(f"{source}: project type {t.id!r} is defined twice")
            types[t.id] = t
        for t in data.types:
            for a in t.aliases:
                if a in types or a in aliases:
                    raise RulebookError(f"{source}: alias {a!r} of {t.id!r} is already taken")
                aliases[a] = t.id
        groups: dict[str, frozenset[str]] = {}

        def resolve(gid: str, stack: tuple[str, ...]) -> frozenset[str]:
            if gid in groups:
                return groups[gid]
            if gid not in data.groups:
                parent = stack[-1] if stack else "?"
                raise RulebookError(
                    f"{source}: group {parent!r} includes unknown group {gid!r}",
                    field="groups",
                )
            if gid in stack:
                raise RulebookError(f"{source}: group cycle {' → '.join((*stack, gid))}")
            g = data.groups[gid]
            members: set[str] = set()
            for m in g.members:
                if m not in types:
                    raise RulebookError(
                        f"{source}: group {gid!r} lists unknown project type {m!r}",
                        field=f"groups.{gid}.members",
                    )
                members.add(m)
            for inc in g.includes:
                members |= resolve(inc, (*stack, gid))
            groups[gid] = frozenset(members)
            return groups[gid]

        for gid in data.groups:
            resolve(gid, ())
        titles = {gid: (g.zh, g.en) for gid, g in data.groups.items()}
        return cls(data.version, types, groups, titles, aliases)

    # ----------------------------------------------------------------- lookup

    def known_ids(self) -> list[str]:
        """All type ids, sorted (used in error messages)."""
        return sorted(self.types)

    def get(self, type_id: str) -> ProjectType:
        """The type with this id or alias; else ``UnknownProjectTypeError`` listing known ids."""
        key = type_id.strip().lower()
        key = self._aliases.get(key, key)
        try:
            return self.types[key]
        except KeyError:
            raise UnknownProjectTypeError(
                f"unknown project type {type_id!r}",
                field="project.type",
                hint=f"use one of: {', '.join(self.known_ids())}",
            ) from None

    def by_industry_code(self, code: str) -> ProjectType:
        """The type whose GB/T 4754 code is the longest prefix of ``code``.

        ``"2614"`` → chemical (listed under ``26``); a leading section letter (``"C2614"``) is
        ignored. Ties go to the type listed first in the file, so the general type (hydropower)
        wins over its special case (small_hydropower) that shares the code.
        """
        digits = normalise_code(code)
        best: tuple[int, ProjectType] | None = None
        for t in self.types.values():
            for c in t.industry_codes:
                if digits.startswith(c) and (best is None or len(c) > best[0]):
                    best = (len(c), t)
        if best is None:
            raise UnknownProjectTypeError(
                f"industry code {code!r} matches no project type",
                field="project.industry_code",
                hint="give a GB/T 4754-2017 code such as 2614, or a type id: "
                + ", ".join(self.known_ids()),
            )
        return best[1]

    def resolve(self, type_id: str | None, industry_code: str | None) -> ProjectType | None:
        """Resolve a request's type and/or code; the explicit type id wins when both are given."""
        if type_id:
            return self.get(type_id)
        if industry_code:
            return self.by_industry_code(industry_code)
        return None

    def groups_of(self, type_id: str) -> set[str]:
        """Ids of every group (direct or through ``includes``) that contains the type."""
        return {gid for gid, members in self.groups.items() if type_id in members}

    # ----------------------------------------------------------------- listing

    def listing(
        self,
        *,
        q: str | None = None,
        group: str | None = None,
        geometry: str | None = None,
        code: str | None = None,
    ) -> list[dict[str, Any]]:
        """JSON-ready type list for ``GET /v1/project-types`` (filters are ANDed).

        ``q`` searches id, Chinese and English names and aliases; ``group`` keeps members of a
        group; ``geometry`` is linear|areal|point; ``code`` keeps the type a code resolves to.
        """
        if group is not None and group not in self.groups:
            raise UnknownProjectTypeError(
                f"unknown group {group!r}", field="group", hint=", ".join(sorted(self.groups))
            )
        picked = self.by_industry_code(code).id if code else None
        out = []
        for t in self.types.values():
            if group and t.id not in self.groups[group]:
                continue
            if geometry and t.geometry != geometry:
                continue
            if picked and t.id != picked:
                continue
            if q and not _matches(q, (t.id, t.zh, t.en, *t.aliases)):
                continue
            row = t.model_dump()
            row["groups"] = sorted(self.groups_of(t.id))
            out.append(row)
        return out

    def groups_listing(self) -> list[dict[str, Any]]:
        """JSON-ready group list with resolved members."""
        return [
            {"id": gid, "zh": zh, "en": en, "members": sorted(self.groups[gid])}
            for gid, (zh, en) in self.group_titles.items()
        ]


def normalise_code(code: str) -> str:
    """Strip blanks and a section letter; the rest must be 2–4 digits."""
    raw = str(code).strip().upper()
    digits = raw[1:] if raw[:1].isalpha() else raw
    if not re.fullmatch(r"\d{2,4}", digits):
        raise UnknownProjectTypeError(
            f"industry code {code!r} is not a GB/T 4754-2017 code",
            field="project.industry_code",
            hint="give 2 to 4 digits, optionally after the section letter, e.g. 2614 or C2614",
        )
    return digits


def _matches(q: str, texts: tuple[str, ...]) -> bool:
    needle = q.strip().casefold()
    return any(needle in s.casefold() for s in texts)
