"""Loading the rulebook: the packaged files are valid, complete and honest; broken copies fail
loudly with a message naming the file, the rule id and the field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from layers.kinds import load_kinds
from zoning.errors import RulebookError
from zoning.rules import load_rulebook
from zoning.rules.loader import DATA_DIR

SEEDS = Path("/work/shared/seeds")


def test_packaged_rulebook_loads(rulebook) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", rulebook.version)
    assert len(rulebook.rules) >= 60
    # 5 km: the search reach of the Yellow River shoreline rules; Yangtze main stem needs 3 km
    assert rulebook.max_distance_m == 5000


def test_version_changes_with_content(tmp_path: Path, rulebook) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    f = copy / "rules" / "11_guizhou.yaml"
    f.write_text(f.read_text(encoding="utf-8") + "\n# comment\n", encoding="utf-8")
    assert load_rulebook(copy).version != rulebook.version
    assert load_rulebook(copy).semver == rulebook.semver


@pytest.mark.parametrize(
    "family",
    ["red_line", "national_park", "nature_reserve", "drinking_water", "yangtze", "yellow_river",
     "plateau_land", "fishing", "qinghai_plan", "control_unit", "guizhou"],
)
def test_every_family_present(rulebook, family: str) -> None:
    assert family in rulebook.families


@pytest.mark.parametrize(
    "rule_id",
    ["R01", "R02", "R04", "R05", "R06", "R07", "R10", "R12", "R13", "R15", "R17", "R20", "R21",
     "R22", "R23", "R24", "R25", "R27-core", "R30", "R31", "R32", "R33", "R40", "R41-main",
     "R41-trib", "R43", "R44", "R50", "R51", "R52", "R53", "R54", "R60", "R70", "R73", "R74",
     "R75", "R77", "R78", "R79", "R82", "R91", "R92-baijiu", "R92-hydro", "R100-priority",
     "R100-key", "R100-general"],
)
def test_catalog_rules_encoded(rulebook, rule_id: str) -> None:
    assert rule_id in rulebook.rule_family


def test_zone_selectors_use_canonical_kinds_and_classes(rulebook) -> None:
    kinds = load_kinds()
    for r in rulebook.rules:
        for z in (r.zone, *r.also_within):
            assert z.kind in kinds.kinds
            assert set(z.classes) <= set(kinds.kinds[z.kind].classes)


def test_yellow_river_rules_use_no_fixed_distance(rulebook) -> None:
    """N8 Art 26 sets no distance: R50/R51 read the published range, never a km constant."""
    for rid in ("R50", "R51"):
        cond = rulebook.rule(rid).spatial
        assert cond.distance_attribute == "shoreline_control_m"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed documents not available")
def test_seed_refs_point_at_real_lines(rulebook) -> None:
    """Every `<file> L<line>` cited exists and is a non-empty line of that seed."""
    refs = set()
    for r in rulebook.rules:
        for b in (*r.basis, *(b for e in r.exceptions for b in e.basis)):
            if b.seed_ref:
                refs.add(b.seed_ref)
    assert refs
    for ref in refs:
        name, line = ref.split(" L")
        lines = (SEEDS / name).read_text(encoding="utf-8").split("\n")
        n = int(re.split(r"[–-]", line)[0])
        assert 1 <= n <= len(lines) and lines[n - 1].strip(), ref


def test_listing_is_json_and_filters(rulebook) -> None:
    rows = rulebook.listing()
    assert len(rows) == len(rulebook.rules)
    json.dumps(rows, ensure_ascii=False)
    water = rulebook.listing(kind="drinking_water_source")
    assert {"R30", "R31", "R32", "R33", "R03"} <= {r["id"] for r in water}
    assert all(
        "drinking_water_source" in {r["zone"]["kind"], *(z["kind"] for z in r.get("also_within", []))}
        for r in water
    )
    assert all(
        r["effect"] == "caution" or any(e["effect"] == "caution" for e in r.get("exceptions", []))
        for r in rulebook.listing(effect="caution")
    )
    chem = {r["id"] for r in rulebook.listing(type="chemical")}
    assert {"R40", "R50", "R02"} <= chem and "R44" not in chem
    assert [r["id"] for r in rulebook.listing(q="泛共和")] == ["R79"]
    assert all(r["family"] == "yangtze" for r in rulebook.listing(family="yangtze"))


def test_listing_as_of(rulebook) -> None:
    from datetime import date

    ids = {r["id"] for r in rulebook.listing(as_of=date(2025, 6, 1))}
    assert "R12-interim" in ids and "R12" not in ids


# --------------------------------------------------------------------------- broken copies


def _broken(tmp_path: Path, fname: str, edit) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    path = copy / "rules" / fname if fname != "project_types.yaml" else copy / fname
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


def _rule(data: dict, rid: str) -> dict:
    return next(r for r in data["rules"] if r["id"] == rid)


BROKEN = [
    ("unknown_kind", "05_yangtze.yaml",
     lambda d: _rule(d, "R40")["zone"].update(kind="riverz"),
     ["05_yangtze.yaml", "R40", "zone", "riverz"]),
    ("unknown_class", "03_nature_reserve.yaml",
     lambda d: _rule(d, "R21")["zone"].update(classes=["kernel"]),
     ["03_nature_reserve.yaml", "R21", "classes", "kernel"]),
    ("unknown_project_type", "01_red_line.yaml",
     lambda d: _rule(d, "R04")["project"].update(types=["spaceport"]),
     ["01_red_line.yaml", "R04", "project", "spaceport"]),
    ("unknown_group", "01_red_line.yaml",
     lambda d: _rule(d, "R04")["project"].update(groups=["nope"]),
     ["01_red_line.yaml", "R04", "groups", "nope"]),
    ("unknown_field", "06_yellow_river.yaml",
     lambda d: _rule(d, "R50").update(efect="prohibited"),
     ["06_yellow_river.yaml", "R50", "efect", "unknown field"]),
    ("unknown_effect", "06_yellow_river.yaml",
     lambda d: _rule(d, "R53").update(effect="forbidden"),
     ["06_yellow_river.yaml", "R53", "effect"]),
    ("dates_reversed", "08_fishing.yaml",
     lambda d: _rule(d, "R74").update(effective_to="2020-01-01"),
     ["08_fishing.yaml", "R74", "effective_to"]),
    ("date_not_a_date", "08_fishing.yaml",
     lambda d: _rule(d, "R74").update(effective_from="soon"),
     ["08_fishing.yaml", "R74", "effective_from"]),
    ("within_without_distance", "05_yangtze.yaml",
     lambda d: _rule(d, "R40").update(spatial={"relation": "within_m"}),
     ["05_yangtze.yaml", "R40", "spatial", "distance_m"]),
    ("bad_seed_ref", "09_qinghai_plan.yaml",
     lambda d: _rule(d, "R70")["basis"][0].update(seed_ref="seed two line 264"),
     ["09_qinghai_plan.yaml", "R70", "seed_ref"]),
    ("duplicate_id", "11_guizhou.yaml",
     lambda d: _rule(d, "R95").update(id="R91"),
     ["11_guizhou.yaml", "R91", "already used"]),
    ("missing_basis", "11_guizhou.yaml",
     lambda d: _rule(d, "R93").update(basis=[]),
     ["11_guizhou.yaml", "R93", "basis"]),
    ("taxonomy_unknown_member", "project_types.yaml",
     lambda d: d["groups"]["energy"]["members"].append("perpetual_motion"),
     ["project_types.yaml", "energy", "perpetual_motion"]),
    ("taxonomy_bad_code", "project_types.yaml",
     lambda d: d["types"][0].update(industry_codes=["B06x"]),
     ["project_types.yaml", "industry_codes"]),
]


@pytest.mark.parametrize("name,fname,edit,expect", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_copy_fails_loudly(tmp_path: Path, name, fname, edit, expect) -> None:
    copy = _broken(tmp_path, fname, edit)
    with pytest.raises(RulebookError) as exc:
        load_rulebook(copy)
    msg = str(exc.value)
    for part in expect:
        assert part in msg, (name, msg)


def test_invalid_yaml_names_file(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    (copy / "rules" / "99_bad.yaml").write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(RulebookError, match=r"99_bad\.yaml"):
        load_rulebook(copy)


def test_cli_validate(tmp_path: Path, capsys) -> None:
    from zoning.rules.__main__ import main

    assert main([]) == 0
    assert '"rule_count"' in capsys.readouterr().out
    copy = _broken(tmp_path, "05_yangtze.yaml", lambda d: _rule(d, "R40")["zone"].update(kind="x"))
    assert main([str(copy)]) == 2
    assert "R40" in capsys.readouterr().err
