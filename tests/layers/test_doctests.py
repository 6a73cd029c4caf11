"""Run the doctest examples of the layer modules (they document behaviour, so they must hold)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["layers.kinds", "layers.measure", "layers.readers", "layers.repair", "layers.report", "layers.standardize"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
