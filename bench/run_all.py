"""``make bench`` entry point: the side-by-side engine benchmark (see ``bench.run_engine``)."""

from __future__ import annotations

import sys

from bench.run_engine import main

if __name__ == "__main__":
    sys.exit(main())
