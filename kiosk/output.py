"""How commands print: one JSON object per line with `--json`, plain text otherwise, errors never as tracebacks."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from pydantic import BaseModel, ValidationError

log = logging.getLogger("kiosk")


class CommandError(Exception):
    """A failure the user must read: its text is shown as it is, so it must hold no patient data."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def emit(obj: BaseModel | dict[str, Any]) -> None:
    """Print one JSON object on one line."""
    data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
    sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit_error(message: str, *, as_json: bool, code: int = 1) -> int:
    log.debug("command failed", exc_info=True)
    if as_json:
        emit({"error": message})
    else:
        sys.stderr.write(f"kiosk: {message}\n")
    return code


def describe_validation_error(exc: ValidationError) -> str:
    """Field names and what is wrong with them, without the offending values (they may be patient data)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or exc.title
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
