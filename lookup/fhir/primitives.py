"""Small readers of FHIR R4 JSON values.

Servers differ in what they fill in; every reader here is lenient: a missing or malformed value reads as none,
never as an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


def items(value: Any) -> list[Any]:
    """The elements of a FHIR repeating element; anything but a JSON array (a server's mistake) reads as none."""
    return value if isinstance(value, list) else []


def text_of(concept: Any) -> str | None:
    """The human text of a CodeableConcept: its `text`, else the first coding's display, else its code."""
    if not isinstance(concept, Mapping):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for coding in items(concept.get("coding")):
        if isinstance(coding, Mapping):
            display = coding.get("display")
            if isinstance(display, str) and display.strip():
                return display.strip()
    code = code_of(concept)
    return code


def code_of(concept: Any, system: str | None = None) -> str | None:
    """The first coding's code (of `system` when given)."""
    if not isinstance(concept, Mapping):
        return None
    for coding in items(concept.get("coding")):
        usable = isinstance(coding, Mapping) and isinstance(coding.get("code"), str)
        if usable and (system is None or coding.get("system") == system):
            return str(coding["code"])
    return None


def parse_date(value: Any) -> dt.date | None:
    """The calendar date of a FHIR date or dateTime; a bare year or year-month gives None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
