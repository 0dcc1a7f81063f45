"""The `kiosk` command line: one sub-command per module in `kiosk.commands`, imported only when used.

Every sub-command module offers `register(subparsers)` and `run(args) -> int`. Errors never leave as a traceback:
with `--json` they are one JSON object with an `error` field, otherwise one plain line, and the exit code is not 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from pydantic import ValidationError

from kiosk.output import CommandError, describe_validation_error, emit_error

COMMANDS: tuple[str, ...] = (
    "demo",
    "run",
    "serve",
    "scan",
    "lookup",
    "sandbox",
    "cache",
    "doctor",
    "staff",
    "trust",
    "unknown",
    "link",
    "unlink",
    "print",
    "hospital",
    "deliveries",
    "admin",
    "duplicates",
)


def _command_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"kiosk.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"kiosk.commands.{name}":
            return None
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that sub-command's module is imported (fast start)."""
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="Identify a patient and show their shared records, online or from the encrypted cache.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name, add_help=False)
            continue
        module = _command_module(name)
        if module is not None:
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in args_list
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    module = _command_module(args.command)
    if module is None:
        return emit_error(f"the command {args.command!r} is not available in this build", as_json=wants_json)
    try:
        code: int = module.run(args)
        return code
    except CommandError as exc:
        return emit_error(str(exc), as_json=wants_json, code=exc.exit_code)
    except ValidationError as exc:
        return emit_error(f"invalid settings or input: {describe_validation_error(exc)}", as_json=wants_json)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a last guard: never a traceback in front of a clerk
        return emit_error(f"unexpected {type(exc).__name__}; see the log for details", as_json=wants_json)


if __name__ == "__main__":
    raise SystemExit(main())
