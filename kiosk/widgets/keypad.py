"""An on-screen numeric keypad for the lobby's touch screen: 0-9, delete, clear and OK, each key a finger's size.

It types into one `Input` exactly as a keyboard would: digits go in at the end, OK submits the field (the same
`Input.Submitted` that Enter posts), so the screen that owns the field needs nothing new to handle it. Its keys
never take the focus: the field keeps it, and a wedge scanner's keys still go where they went.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Button, Input

from kiosk.i18n import Translator

_DIGITS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


class NumericKeypad(Grid):
    """Twelve keys in four rows (1-9, then delete, 0, clear) and a wide OK below, for the `Input` named `target`."""

    DEFAULT_CSS = """
    NumericKeypad {
        grid-size: 3;
        grid-gutter: 0 1;
        grid-rows: 3;
        width: 32;
        height: auto;
    }
    NumericKeypad Button { width: 100%; height: 3; min-width: 8; margin: 0; }
    NumericKeypad #key-ok { column-span: 3; }
    """

    def __init__(self, t: Translator, target: str, *, id: str | None = "keypad") -> None:
        super().__init__(id=id)
        self._t = t
        self._target = target
        """A selector of the field the keys type into, searched for on the keypad's screen."""

    def compose(self) -> ComposeResult:
        keys = [(digit, f"key-{digit}") for digit in _DIGITS]
        keys += [(self._t("keypad.backspace"), "key-back"), ("0", "key-0"), (self._t("keypad.clear"), "key-clear")]
        keys.append((self._t("action.ok"), "key-ok"))
        for label, name in keys:
            button = Button(label, id=name, variant="primary" if name == "key-ok" else "default")
            button.can_focus = False
            # A Button ignores a tap within its 0.2 s press effect; on a keypad "00" is tapped that fast.
            button.active_effect_duration = 0
            yield button

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        field = self.screen.query_one(self._target, Input)
        key = (event.button.id or "").removeprefix("key-")
        if key == "ok":
            await field.action_submit()  # what Enter in the field does
            return
        if key.isdigit():
            field.value += key
        elif key == "back":
            field.value = field.value[:-1]
        elif key == "clear":
            field.value = ""
        field.cursor_position = len(field.value)
        field.focus()
