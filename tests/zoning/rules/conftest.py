"""Fixtures for rulebook tests (helpers live in ``_rules_helpers``)."""

from __future__ import annotations

import pytest

from zoning.rules import Rulebook, load_rulebook


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    """The packaged rulebook, loaded once."""
    return load_rulebook()
