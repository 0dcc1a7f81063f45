"""The touch buttons in every screen's header: the language (so a foreign patient can switch to English without a
keyboard) and admin (behind the same staff or admin PIN as F9)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

from kiosk.i18n import Translator


class HeaderButtons(Horizontal):
    """Language and admin buttons; they never take the focus, so a scanner's keys never press them."""

    DEFAULT_CSS = """
    HeaderButtons { width: auto; height: auto; }
    """
    """Sizes and borders are in app.tcss: Button's own variant rules would outrank them here."""

    def __init__(self, t: Translator) -> None:
        super().__init__(id="header-buttons")
        self._t = t

    def compose(self) -> ComposeResult:
        for key, name in (("header.lang", "lang-button"), ("header.admin", "admin-button")):
            button = Button(self._t(key), id=name, variant="primary" if name == "lang-button" else "default")
            button.can_focus = False
            yield button

    @on(Button.Pressed, "#lang-button")
    def _language(self, event: Button.Pressed) -> None:
        event.stop()
        # Later, from the app: switching the language redraws the screen, this widget included.
        self.app.call_later(self.app.run_action, "toggle_language")

    @on(Button.Pressed, "#admin-button")
    def _admin(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.call_later(self.app.run_action, "admin")
