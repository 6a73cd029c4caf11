"""Capacity units: which dimension a unit measures and its factor to the base unit.

Why: capacity thresholds in rules (small hydropower ≤ 50 MW, boilers ≤ 10 t/h, coal mines
< 300 kt/yr) must compare with what a caller sends ("20000 kW", "30万吨/年") without guessing.
Units of different dimensions never compare; an unknown unit is an input error.
"""

from __future__ import annotations

# unit (case-folded, blanks removed) → (dimension, factor to base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "kw": ("power", 1e-3),
    "mw": ("power", 1.0),
    "gw": ("power", 1e3),
    "万千瓦": ("power", 10.0),
    "t/a": ("mass_per_year", 1.0),
    "t/yr": ("mass_per_year", 1.0),
    "吨/年": ("mass_per_year", 1.0),
    "kt/a": ("mass_per_year", 1e3),
    "kt/yr": ("mass_per_year", 1e3),
    "万t/a": ("mass_per_year", 1e4),
    "万吨/年": ("mass_per_year", 1e4),
    "mt/a": ("mass_per_year", 1e6),
    "t/h": ("steam", 1.0),
    "蒸吨/小时": ("steam", 1.0),
    "m3/d": ("water_per_day", 1.0),
    "t/d": ("water_per_day", 1.0),
    "吨/日": ("water_per_day", 1.0),
    "万m3/a": ("water_per_year", 1e4),
    "m3/a": ("water_per_year", 1.0),
    "tce/a": ("energy_per_year", 1.0),
    "吨标准煤/年": ("energy_per_year", 1.0),
    "ha": ("area", 1.0),
    "亩": ("area", 1 / 15),
}


def _key(unit: str) -> str:
    return unit.replace(" ", "").replace("³", "3").casefold()


def unit_factor(unit: str) -> tuple[str, float] | None:
    """``(dimension, factor)`` of a unit, or ``None`` when unknown."""
    return _UNITS.get(_key(unit))


def known_units() -> list[str]:
    """Units accepted in capacities (for error hints)."""
    return sorted(_UNITS)


def convert(value: float, unit: str, target: str) -> float | None:
    """``value`` in ``unit`` expressed in ``target``; ``None`` if either is unknown or they differ
    in dimension."""
    a, b = unit_factor(unit), unit_factor(target)
    if a is None or b is None or a[0] != b[0]:
        return None
    return value * a[1] / b[1]
