"""The lobby's second factor: after a card or code named the person, and before the kiosk checks them in or books a
walk-in, they type their birth date (or the last four digits of their phone) on the on-screen keypad.

The answer is masked on screen, compared by `lookup.domain.second_factor`, and never logged. A wrong answer says only
that it did not match; after `MAX_ATTEMPTS` wrong answers the dialog gives up and the screen behind starts over.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from kiosk.i18n import Translator
from kiosk.widgets.keypad import NumericKeypad
from kiosk.widgets.words import Words
from lookup.domain.model import Demographics
from lookup.domain.second_factor import MAX_ATTEMPTS, SecondFactor, answer_agrees


class SecondFactorDialog(ModalScreen[bool | None]):
    """Asks for the second factor; dismissed with True (it agreed), False (three wrong answers) or None (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    SecondFactorDialog .dialog-box { width: 84; }
    SecondFactorDialog #second-factor-body { height: auto; }
    SecondFactorDialog #second-factor-question { width: 1fr; height: auto; margin-right: 2; }
    """

    def __init__(self, t: Translator, who: Demographics, factor: SecondFactor) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._who = who
        self.factor = factor
        self.wrong = 0
        """Wrong answers so far."""

    def compose(self) -> ComposeResult:
        t = self._t
        with Vertical(classes="dialog-box", id="second-factor"):
            yield Words(t("second-factor.title"), classes="dialog-title")
            # The keypad beside the question, so the whole dialog fits a small lobby screen (24 rows).
            with Horizontal(id="second-factor-body"):
                with Vertical(id="second-factor-question"):
                    yield Words(t(f"second-factor.ask-{self.factor.value}"), id="second-factor-ask")
                    placeholder = t(f"second-factor.placeholder-{self.factor.value}")
                    yield Input(password=True, id="answer", placeholder=placeholder)
                    yield Words("", id="second-factor-error", classes="notice")
                    yield Button(t("action.back"), id="second-factor-cancel")
                yield NumericKeypad(t, "#answer")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def _answered(self, event: Input.Submitted) -> None:
        event.stop()
        field = self.query_one("#answer", Input)
        answer, field.value = field.value, ""
        if not answer.strip():
            return
        if answer_agrees(self._who, self.factor, answer):
            self.dismiss(True)
            return
        self.wrong += 1
        if self.wrong >= MAX_ATTEMPTS:
            self.dismiss(False)
            return
        left = MAX_ATTEMPTS - self.wrong
        self.query_one("#second-factor-error", Words).update(self._t("second-factor.wrong", left=left))
        field.focus()

    @on(Button.Pressed, "#second-factor-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
