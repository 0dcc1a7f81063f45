"""How commands print: one JSON object per line with `--json`, plain text otherwise, errors never as tracebacks.

Whatever a command prints may hold text from a server or a card, and a terminal obeys what it reads: plain lines go
through `say`, which removes escape sequences and control characters (`lookup.domain.text.strip_controls`); JSON
keeps every character but writes controls, C1 and bidirectional characters as `\\u` escapes, so no terminal acts on
them and a JSON reader still gets the text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from lookup import strip_controls

log = logging.getLogger("kiosk")

_RAW_IN_JSON: Final = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u206f\ud800-\udfff]")
"""What `json.dumps(ensure_ascii=False)` leaves unescaped but a terminal may act on (it escapes C0 itself), and lone
surrogates, which no UTF-8 stream can even write."""


class CommandError(Exception):
    """A failure the user must read: its text is shown as it is, so it must hold no patient data."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def emit(obj: BaseModel | dict[str, Any]) -> None:
    """Print one JSON object on one line."""
    data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
    line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write(_RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", line) + "\n")
    sys.stdout.flush()


def say(text: str = "", *, err: bool = False) -> None:
    """Print plain text (one or more lines) with nothing a terminal would act on: no escape sequence, no control
    character, no bidirectional override."""
    lines = "\n".join(strip_controls(line) for line in text.split("\n"))
    stream = sys.stderr if err else sys.stdout
    stream.write(lines + "\n")
    stream.flush()


def emit_error(message: str, *, as_json: bool, code: int = 1) -> int:
    log.debug("command failed", exc_info=True)
    if as_json:
        emit({"error": message})
    else:
        say(f"kiosk: {message}", err=True)
    return code


def describe_validation_error(exc: ValidationError) -> str:
    """Field names and what is wrong with them, without the offending values (they may be patient data)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or exc.title
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
