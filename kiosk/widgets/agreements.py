"""How two people's details compare, field by field, as the matching engine explained it: a mark and the field's
name in the clerk's language, with the engine's note ("day and month swapped") where it gave one."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from kiosk.i18n import Translator
from lookup import FieldAgreement

LEVEL_MARK = {"agrees": ("✔", "green"), "close": ("≈", "yellow"), "differs": ("✘", "red"), "missing": ("·", "")}


def agreement_words(t: Translator, agreements: Iterable[FieldAgreement]) -> Text:
    """The fields compared (those missing on a side left out), each with its mark, its name and its note."""
    text = Text()
    for agreement in agreements:
        if agreement.level == "missing":
            continue
        mark, style = LEVEL_MARK[agreement.level]
        if text:
            text.append("  ")
        text.append(f"{mark} ", style=style)
        text.append(t(f"field.{agreement.field}"))
        if agreement.code:
            text.append(f" ({t(f'match.{agreement.code}')})", style="bright_black")
    return text
