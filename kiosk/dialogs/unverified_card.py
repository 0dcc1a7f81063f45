"""A health card whose signature does not hold: the clerk reads why before the card may identify anyone.

A tampered or forged card names whoever its maker wanted; the kiosk looks that person up only after the clerk has
read the warning and chosen to go on (checking identity another way). Cancel is the default: Enter or Esc on the
dialog looks nobody up.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button

from kiosk.i18n import Translator
from kiosk.widgets.words import Words


class UnverifiedCardDialog(ModalScreen[bool]):
    """Says why the card is not trusted; returns True to look it up anyway, False (the default) to cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]

    def __init__(self, t: Translator, status: str, reason: str | None) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._status = status
        self._reason = reason

    def compose(self) -> ComposeResult:
        t = self._t
        with Vertical(classes="dialog-box -danger"):
            yield Words(t("card.unverified.title"), classes="dialog-title")
            why = t("card.unknown-signer.body") if self._status == "unknown-signer" else t("card.invalid.body")
            yield Words(why, id="card-why")
            if self._reason:
                yield Words(self._reason, classes="explain")
            with Horizontal(classes="actions"):
                yield Button(t("action.cancel"), id="cancel", variant="primary")
                yield Button(t("card.continue"), id="continue", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#continue")
    def _continue(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
