"""``python -m zoning.rules [DATA_DIR]``: validate the rule files and print the rulebook summary.

Why: a rule author (or CI) can check an edited rule file without starting the service; the exit
code is 2 with the loader's message (file, rule id, field) when anything is wrong.
"""

from __future__ import annotations

import json
import sys

from zoning.errors import RulebookError
from zoning.rules.loader import load_rulebook


def main(argv: list[str] | None = None) -> int:
    """Validate ``argv[0]`` (default: the packaged data) and print a JSON summary."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rulebook = load_rulebook(args[0] if args else None)
    except RulebookError as exc:
        print(f"rulebook invalid: {exc.detail}" + (f" ({exc.hint})" if exc.hint else ""),
              file=sys.stderr)
        return 2
    print(json.dumps(rulebook.summary(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
