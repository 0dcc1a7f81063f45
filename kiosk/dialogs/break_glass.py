"""Consent is missing: in an emergency the clerk may break the glass, giving a reason that is audited."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from kiosk.i18n import Translator
from kiosk.widgets.words import Words

MIN_REASON = 8
"""A reason must say something: a few words, not a single letter typed to get past the dialog."""


class BreakGlassDialog(ModalScreen[str | None]):
    """Explains that the patient has not consented; returns the reason for emergency access, or None to cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]

    def __init__(self, t: Translator, *, allowed: bool = True, refusal: str | None = None) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._allowed = allowed
        self._refusal = refusal
        """The server's words when it refused the reason given before."""

    def compose(self) -> ComposeResult:
        t = self._t
        with Vertical(classes="dialog-box -danger"):
            yield Words(t("consent.title"), classes="dialog-title")
            yield Words(t("consent.body"))
            if self._allowed:
                yield Words(t("breakglass.explain"), classes="explain")
                yield Input(placeholder=t("breakglass.placeholder"), id="reason")
                refused = t("breakglass.refused", reason=self._refusal) if self._refusal else ""
                yield Words(refused, id="reason-error", classes="notice")
            with Horizontal(classes="actions"):
                if self._allowed:
                    yield Button(t("breakglass.confirm"), id="confirm", variant="error", disabled=True)
                yield Button(t("action.cancel"), id="cancel")

    def on_mount(self) -> None:
        if self._allowed:
            self.query_one("#reason", Input).focus()

    @on(Input.Changed, "#reason")
    def _reason_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = len(event.value.strip()) < MIN_REASON

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if len(reason) < MIN_REASON:
            self.query_one("#reason-error", Words).update(self._t("breakglass.need-reason", n=MIN_REASON))
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
