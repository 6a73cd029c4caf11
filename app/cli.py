"""The ``zoning`` command line.

Each sub-command lives in its own module under ``app/commands/`` exposing
``register(subparsers) -> None`` (adds its parser, sets ``func``). Errors of the engine and of
the data pack end the command with exit code 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("build", "layers", "serve", "screen", "batch")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoning",
        description="Ecological zoning screening for China: build layers, screen sites, serve.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"app.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from layers.errors import LayerError
    from zoning.errors import ZoningError

    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ZoningError, LayerError) as exc:
        hint = getattr(exc, "hint", None)
        print(f"zoning {args.command}: error: {exc}" + (f" ({hint})" if hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zoning {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
