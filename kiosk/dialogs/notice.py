"""A notice the clerk must read and dismiss: a lookup that found nothing, a server that is down."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button

from kiosk.i18n import Translator
from kiosk.widgets.words import Words


class NoticeDialog(ModalScreen[None]):
    """A title, a sentence in the clerk's words, an optional technical detail, and OK. An `alert` (such as a
    server's answer about another person) is drawn in red, as the break-glass dialog is."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "dismiss", "close")]

    def __init__(self, t: Translator, title: str, body: str, *, detail: str | None = None, alert: bool = False) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._title = title
        self._body = body
        self._detail = detail
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -danger" if self.alert else "dialog-box"):
            yield Words(self._title, classes="dialog-title")
            yield Words(self._body, id="notice-body")
            if self._detail:
                yield Words(self._detail, classes="explain")
            yield Button(self._t("action.ok"), id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(None)
