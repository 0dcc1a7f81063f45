"""The confirmation before a temporary identity is linked to a real patient, or before that link is undone: both
identities side by side, so the nurse compares them before anything moves on the server."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button

from kiosk.i18n import Translator
from kiosk.widgets.context import format_date
from kiosk.widgets.words import Words
from lookup.domain.model import PatientRecord
from lookup.domain.temporary import TEMPORARY_SYSTEM, printed_number, temporary_alias


def identity_id(patient: PatientRecord) -> str:
    """The first identifier that is not a temporary one (a CCCD, an insurance number), else the record's id."""
    real = [i.value for i in patient.identifiers if i.system != TEMPORARY_SYSTEM]
    return real[0] if real else patient.id


class LinkIdentityDialog(ModalScreen[bool]):
    """The temporary identity (alias and number) beside the real patient (name, birth date, an identifier); returns
    True to link (or undo the link), False (the default, and Escape) to leave both as they are."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]

    def __init__(
        self, t: Translator, number: str, real: PatientRecord, *, action: Literal["link", "unlink"] = "link"
    ) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._number = number
        self._real = real
        self._action = action

    def compose(self) -> ComposeResult:
        t = self._t
        person = self._real.demographics
        born = format_date(person.birth_date) if person.birth_date is not None else str(person.birth_year or "—")
        with Vertical(classes="dialog-box -danger", id="link-box"):
            yield Words(t(f"link.{self._action}.title"), classes="dialog-title")
            yield Words(t(f"link.{self._action}.body"), id="link-body")
            with Horizontal(id="link-identities"):
                with Vertical(id="link-temporary"):
                    yield Words(t("link.temporary"), classes="section-title")
                    yield Words(temporary_alias(self._number), id="link-alias")
                    yield Words(printed_number(self._number), id="link-number")
                with Vertical(id="link-real"):
                    yield Words(t("link.real"), classes="section-title")
                    yield Words(person.full_name or t("patient.no-name"), id="link-name")
                    yield Words(t("link.born", date=born), id="link-born")
                    yield Words(t("link.id", id=identity_id(self._real)), id="link-id")
            with Horizontal(classes="actions"):
                yield Button(t("action.cancel"), id="cancel", variant="primary")
                yield Button(t(f"link.{self._action}.confirm"), id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
