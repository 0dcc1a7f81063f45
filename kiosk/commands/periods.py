"""Dates and times as the console's commands read them: ISO 8601, in the kiosk's local time unless the text says."""

from __future__ import annotations

import datetime as dt

from kiosk.output import CommandError


def instant(text: str | None, option: str) -> dt.datetime | None:
    """`2026-03-01` (its local midnight), `2026-03-01T08:00` (local) or with a zone (`...+07:00`, `...Z`); None for
    None. A text that is none of these is a `CommandError` naming the option."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        example = "e.g. 2026-03-01 or 2026-03-01T08:00"
        raise CommandError(f"{option} takes an ISO date or date and time, {example}") from None
    return when if when.tzinfo is not None else when.astimezone()
