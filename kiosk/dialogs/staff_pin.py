"""A staff member's id and PIN before the first lookup (ER and reception), or a PIN alone to open the admin screen
or quit the app where nobody is signed in (always in the lobby).

The dialog only collects: the app checks what was typed (the server or the kiosk's records for a sign-in, the admin
PIN's hash for an unlock) and either closes the dialog or has it say why not. The PIN is masked, cleared after every
refusal and never shown or kept by the dialog.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from kiosk.i18n import Translator
from kiosk.widgets.words import Words

Purpose = Literal["sign-in", "admin", "quit"]
"""What the PIN is for: signing a staff member in, or unlocking the admin screen or quitting."""


class StaffPinDialog(ModalScreen[None]):
    """Staff id (for a sign-in) and PIN; posts `Submitted` for the app to check, and shows its refusals."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel"), ("f9", "admin", "admin")]

    class Submitted(Message):
        """The id and PIN typed, for the app to check."""

        def __init__(self, dialog: StaffPinDialog, staff_id: str, pin: str) -> None:
            super().__init__()
            self.dialog = dialog
            self.staff_id = staff_id
            self.pin = pin

    def __init__(self, t: Translator, purpose: Purpose, *, staff_id: str = "", hint: str | None = None) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self.purpose: Purpose = purpose
        self._staff_id = staff_id
        self._hint = hint

    @property
    def signs_in(self) -> bool:
        return self.purpose == "sign-in"

    def compose(self) -> ComposeResult:
        t = self._t
        with Vertical(classes="dialog-box"):
            yield Words(t("staff.title" if self.signs_in else "unlock.title"), classes="dialog-title")
            yield Words(t("staff.explain" if self.signs_in else f"unlock.explain-{self.purpose}"), classes="explain")
            if self.signs_in:
                yield Words(t("staff.id"))
                yield Input(self._staff_id, placeholder=t("staff.id-placeholder"), id="staff-id", max_length=64)
            yield Words(t("staff.pin"))
            yield Input(password=True, id="pin", max_length=32)
            yield Words("", id="pin-message", classes="notice")
            if self._hint:
                yield Words(self._hint, classes="hint")
            with Horizontal(classes="actions"):
                yield Button(t("staff.sign-in" if self.signs_in else "action.ok"), id="submit", variant="primary")
                if not self.signs_in:
                    yield Button(t("action.cancel"), id="cancel")

    def on_mount(self) -> None:
        first = "#staff-id" if self.signs_in and not self._staff_id else "#pin"
        self.query_one(first, Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        staff_id = self.query_one("#staff-id", Input).value.strip() if self.signs_in else ""
        pin = self.query_one("#pin", Input)
        if self.signs_in and not staff_id:
            self.query_one("#staff-id", Input).focus()
            return
        if not pin.value:
            self._say("" if self.focused is not pin else self._t("staff.need-pin"))
            pin.focus()
            return
        self._busy(True)
        self._say(self._t("staff.checking"))
        self.post_message(self.Submitted(self, staff_id, pin.value))

    def refuse(self, sentence: str) -> None:
        """Say why the id and PIN were not accepted; the PIN is cleared for the next try."""
        self._busy(False)
        pin = self.query_one("#pin", Input)
        pin.value = ""
        pin.focus()
        self._say(sentence)

    def _busy(self, busy: bool) -> None:
        for widget in self.query(Input):
            widget.disabled = busy
        self.query_one("#submit", Button).disabled = busy

    def _say(self, sentence: str) -> None:
        self.query_one("#pin-message", Words).update(sentence)

    async def action_admin(self) -> None:
        # The app's own F9 does not reach past a dialog: from the sign-in, the admin screen (behind its PIN) is still
        # there for whoever looks after the kiosk when nobody can sign in.
        if self.signs_in:
            await self.app.run_action("app.admin")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        # A sign-in cannot be cancelled: without it there is nothing else to do at this kiosk.
        if not self.signs_in:
            self.dismiss(None)
