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
from kiosk.widgets.context import format_date
from kiosk.widgets.patient import identifier_label
from kiosk.widgets.words import Words
from lookup import PatientRecord

MIN_REASON = 8
"""A reason must say something: a few words, not a single letter typed to get past the dialog."""


class BreakGlassDialog(ModalScreen[str | None]):
    """Explains that the patient has not consented; returns the reason for emergency access, or None to cancel.

    The patient is named with two identifiers (full name, birth date and an ID number) so the glass is broken for
    the person on the trolley. The confirm button always takes the focus in turn: pressed with too short a reason
    it says so, so Tab then Enter never lands on Cancel and silently drops the patient; the error goes as soon as
    the reason is long enough."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]

    def __init__(
        self,
        t: Translator,
        *,
        allowed: bool = True,
        refusal: str | None = None,
        patient: PatientRecord | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self._t = t
        self._allowed = allowed
        self._patient = patient
        self._refusal = refusal
        """The server's words when it refused the reason given before."""

    def compose(self) -> ComposeResult:
        t = self._t
        with Vertical(classes="dialog-box -danger"):
            yield Words(t("consent.title"), classes="dialog-title")
            if self._patient is not None:
                yield Words(_who(t, self._patient), id="breakglass-patient", classes="dialog-title")
            yield Words(t("consent.body"))
            if self._allowed:
                yield Words(t("breakglass.explain"), classes="explain")
                yield Input(placeholder=t("breakglass.placeholder"), id="reason")
                refused = t("breakglass.refused", reason=self._refusal) if self._refusal else ""
                yield Words(refused, id="reason-error", classes="notice")
            with Horizontal(classes="actions"):
                if self._allowed:
                    yield Button(t("breakglass.confirm"), id="confirm", variant="error")
                yield Button(t("action.cancel"), id="cancel")

    def on_mount(self) -> None:
        if self._allowed:
            self.query_one("#reason", Input).focus()

    @on(Input.Changed, "#reason")
    def _reason_changed(self, event: Input.Changed) -> None:
        if len(event.value.strip()) >= MIN_REASON:
            self.query_one("#reason-error", Words).update("")

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if len(reason) < MIN_REASON:
            self.query_one("#reason-error", Words).update(self._t("breakglass.need-reason", n=MIN_REASON))
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _who(t: Translator, patient: PatientRecord) -> str:
    """The patient by full name, birth date and the first ID number the record carries."""
    person = patient.demographics
    parts = [person.full_name or t("patient.no-name")]
    if person.birth_date is not None:
        parts.append(f"{t('patient.born')}: {format_date(person.birth_date)}")
    elif person.birth_year is not None:
        parts.append(f"{t('patient.born')}: {person.birth_year}")
    for identifier in patient.identifiers[:1]:
        label = identifier_label(t, identifier)
        parts.append(f"{label} {identifier.value}")
    return t("breakglass.patient", who=" · ".join(parts))
