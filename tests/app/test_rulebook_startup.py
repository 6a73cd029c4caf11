"""A rule file with an error stops start-up loudly, naming the file and the rule (issue 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for
from zoning.rules.loader import DATA_DIR


def _broken_rules(tmp_path: Path) -> tuple[Path, str]:
    rules = tmp_path / "rules"
    shutil.copytree(DATA_DIR, rules)
    target = sorted((rules / "rules").glob("*.yaml"))[0]
    text = target.read_text(encoding="utf-8")
    assert "kind: " in text
    target.write_text(text.replace("kind: ", "kind: no_such_kind_", 1), encoding="utf-8")
    return rules, target.name


def test_strict_startup_refuses_a_broken_rule_file(data_dir: Path, tmp_path: Path) -> None:
    rules, name = _broken_rules(tmp_path)
    app = create_app(settings_for(data_dir, rules_dir=rules, strict_startup=True))
    with pytest.raises(Exception) as excinfo, TestClient(app):
        pass
    message = str(excinfo.value)
    assert name in message and "no_such_kind_" in message


def test_packaged_rules_load_from_an_explicit_folder(data_dir: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DATA_DIR, rules)
    with TestClient(create_app(settings_for(data_dir, rules_dir=rules, strict_startup=True))) as client:
        assert client.get("/v1/rules").status_code == 200
