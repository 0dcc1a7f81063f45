"""Words on screen in Vietnamese (the default) and English, from two message catalogues in `kiosk/data/`.

Every text a clerk or patient reads goes through `Translator`; code never spells a sentence itself. A key missing
from one language falls back to the other, then to the key, so a gap shows up as a readable slip, not a crash.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

Lang = Literal["vi", "en"]
_DATA = Path(__file__).resolve().parent / "data"


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    """The messages of one language, read once."""
    data = json.loads((_DATA / f"messages.{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"messages.{lang}.json is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def fault_words(t: Translator, fault: str | None) -> str | None:
    """A request fault (`FaultKind` value) in the clerk's words; None when there was none."""
    if fault is None:
        return None
    key = f"fault.{fault}"
    return t(key) if t.has(key) else t("fault.other")


class Translator:
    """Looks messages up in the current language and fills in `{named}` values."""

    def __init__(self, lang: Lang = "vi") -> None:
        self.lang: Lang = lang

    def __call__(self, key: str, /, **values: object) -> str:
        text = catalogue(self.lang).get(key)
        if text is None:
            other: Lang = "en" if self.lang == "vi" else "vi"
            text = catalogue(other).get(key, key)
        if not values:
            return text
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang) or key in catalogue("en")

    def toggle(self) -> Lang:
        """Switch between Vietnamese and English; returns the new language."""
        self.lang = "en" if self.lang == "vi" else "vi"
        return self.lang
