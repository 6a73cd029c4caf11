"""Shared fixtures (keep small and additive; package-specific fixtures live in each tests/<pkg>/)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RAW_DIR = REPO_ROOT / "data" / "raw"


@pytest.fixture(scope="session")
def bundled_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled data pack (data/raw/*/manifest.yaml) built once per session into a temp folder.

    Skips when no manifest exists yet. Use it for tests that need the real Qinghai/Guizhou layers
    without touching the working copy's data/processed. When data/processed exists (``make test``
    builds it first) it seeds the folder, so the build only redoes layers whose fingerprint changed
    (reused files are checked against their checksums first).
    """
    import shutil

    from layers.build import build, default_manifests

    manifests = default_manifests(RAW_DIR)
    if not manifests:
        pytest.skip("no data/raw/*/manifest.yaml yet")
    out = tmp_path_factory.mktemp("bundled") / "processed"
    seed = REPO_ROOT / "data" / "processed"
    if (seed / "catalog.json").exists():
        shutil.copytree(seed, out)
    build(manifests, out)
    return out


@pytest.fixture
def bundled_data_copy(bundled_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the bundled data pack, for tests that change or damage its files."""
    import shutil

    folder = tmp_path / "processed"
    shutil.copytree(bundled_data_dir, folder)
    return folder
