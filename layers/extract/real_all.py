"""Regenerate every real and derived file under data/raw (dev-only; run in /work/.venv-extract).

    /work/.venv-extract/bin/python -m layers.extract.real_all

Order matters: the province outline (real_admin) is the clip mask for everything else, and the
DEM derivations read the 1:4M lakes and rivers written by real_hydro.
"""

from __future__ import annotations

import importlib

STEPS = (
    "layers.extract.real_admin",
    "layers.extract.real_dem",
    "layers.extract.real_hydro",
    "layers.extract.real_basins",
    "layers.extract.real_derived",
)


def main() -> None:
    for name in STEPS:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
