"""Secrets given to a command come from a file or standard input, never from its command line.

Every local user can read every process's command line (`ps`, `/proc/<pid>/cmdline`), so a code's text, a
break-glass reason or a health-link passcode written there is shown to all of them for as long as the command runs
(and kept in shell histories). `--NAME-file PATH` reads the value from a file, `--NAME-file -` from standard input
(one value at most: there is one standard input); the literal `--NAME VALUE` options are refused with a sentence
saying so. Errors name the option and the file, never the value.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from kiosk.output import CommandError

STDIN = "-"


@dataclass(frozen=True)
class SecretOption:
    """A value read by `--NAME-file`, with the literal `--NAME` refused."""

    name: str
    """The option's name without dashes, e.g. `qr-text`."""
    what: str
    """What the value is, for the help and the messages."""
    max_bytes: int

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        parser.add_argument(
            f"--{self.name}-file",
            dest=f"{self.dest}_file",
            metavar="PATH",
            help=f"read {self.what} from this file ('-': standard input)",
        )
        # Kept only to refuse it with a sentence: argparse's own "unrecognized argument" would not say why.
        parser.add_argument(f"--{self.name}", dest=f"{self.dest}_on_argv", help=argparse.SUPPRESS)

    def refuse_literal(self, args: argparse.Namespace) -> None:
        if getattr(args, f"{self.dest}_on_argv", None) is not None:
            raise CommandError(
                f"--{self.name} would show {self.what} to every user of this machine (the process list); "
                f"pass it with --{self.name}-file PATH, or --{self.name}-file - to read it from standard input"
            )

    def read(self, args: argparse.Namespace) -> str | None:
        """The value, or None when the option was not given."""
        source = getattr(args, f"{self.dest}_file", None)
        if source is None:
            return None
        label = "standard input" if source == STDIN else str(source)
        raw = self._read_bytes(source, label)
        if len(raw) > self.max_bytes:
            raise CommandError(f"--{self.name}-file: {label} is too large (more than {self.max_bytes} bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"--{self.name}-file: {label} is not UTF-8 text") from None
        value = text.strip("\r\n")
        if not value.strip():
            raise CommandError(f"--{self.name}-file: {label} is empty")
        return value

    def _read_bytes(self, source: str, label: str) -> bytes:
        if source == STDIN:
            return sys.stdin.buffer.read(self.max_bytes + 1)
        try:
            with Path(source).open("rb") as handle:
                return handle.read(self.max_bytes + 1)
        except FileNotFoundError:
            raise CommandError(f"--{self.name}-file: there is no file {label}") from None
        except IsADirectoryError:
            raise CommandError(f"--{self.name}-file: {label} is a folder, not a file") from None
        except OSError as exc:
            raise CommandError(f"--{self.name}-file: {label} cannot be read ({exc.strerror})") from None


def check_one_stdin(args: argparse.Namespace, options: list[SecretOption]) -> None:
    """At most one value may come from standard input."""
    readers = [f"--{o.name}-file" for o in options if getattr(args, f"{o.dest}_file", None) == STDIN]
    if len(readers) > 1:
        raise CommandError(f"only one option may read standard input, and {' and '.join(readers)} both do")
