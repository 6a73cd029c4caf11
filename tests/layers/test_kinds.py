"""kinds.yaml: validation and canonical-class lookup through aliases and class_map."""

from __future__ import annotations

import pytest

from layers.errors import ManifestError
from layers.kinds import KindSpec, load_kinds


@pytest.mark.parametrize(
    ("kind", "label", "expected"),
    [
        ("national_park", "核心保护区", "core_protection"),
        ("national_park", "核心保育区", "core_protection"),
        ("national_park", "一般控制区", "general_control"),
        ("nature_reserve", "核心区", "core"),
        ("nature_reserve", "核心保护区", "core_protection"),
        ("control_unit", "优先保护单元", "priority_protection"),
        ("control_unit", "2", "key_control"),
        ("drinking_water_source", "二级保护区", "grade2"),
        ("river", "干流", "mainstem"),
        ("river", "important_tributary", "important_tributary"),
        ("admin", "自治州", "prefecture"),
        ("admin", " County ", "county"),
        ("control_unit", "不存在的类别", None),
    ],
)
def test_alias_lookup(kind: str, label: str, expected: str | None) -> None:
    assert load_kinds().canonical_class(kind, label) == expected


def test_class_map_wins_over_aliases() -> None:
    kinds = load_kinds()
    assert kinds.canonical_class("control_unit", "1", {"1": "general_control"}) == "general_control"
    assert kinds.canonical_class("control_unit", "ZB", {"ZB": "key_control"}) == "key_control"


def test_unknown_kind_lists_valid_ones() -> None:
    with pytest.raises(ManifestError, match=r"unknown layer kind 'forest'.*national_park"):
        load_kinds().get("forest")


def test_ambiguous_alias_is_rejected() -> None:
    with pytest.raises(ValueError, match="'核心' is used by both"):
        KindSpec.model_validate(
            {
                "title_zh": "x",
                "geometry": "polygon",
                "classes": {"a": {"zh": "甲", "aliases": ["核心"]}, "b": {"zh": "乙", "aliases": ["核心"]}},
            }
        )


def test_every_kind_has_a_geometry_family() -> None:
    kinds = load_kinds().kinds
    assert {"admin", "national_park", "river", "raster", "control_unit"} <= set(kinds)
    assert kinds["river"].geometry == "line"
    assert kinds["raster"].geometry == "raster"
