"""textual-serve's page in the kiosk's words: its few English words (Start, Session ended., Restart) replaced by the
catalogue's, so a browser kiosk never shows English to a Vietnamese patient when a session ends."""

from __future__ import annotations

import html
from typing import Final

from kiosk.i18n import Translator

_WORDS: Final = (
    ('id="start">Start</button>', 'id="start">{}</button>', "serve.start"),
    ('<div class="message">Session ended.</div>', '<div class="message">{}</div>', "serve.session-ended"),
    ('onClick="refresh()">Restart</button>', 'onClick="refresh()">{}</button>', "serve.restart"),
)
"""textual-serve's own markup around each English word, and the catalogue key that replaces it."""


def in_words(page: str, t: Translator) -> str:
    """`page` (textual-serve's app page) with its English words in the language of `t`, and that language declared."""
    for markup, replacement, key in _WORDS:
        page = page.replace(markup, replacement.format(html.escape(t(key))))
    return page.replace("<html>", f'<html lang="{t.lang}">', 1)
