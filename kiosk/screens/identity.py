"""Before a card opens anyone: the card and the record its number found disagree, or its number found nobody.

`IdentityMismatchScreen` puts who the card says it is beside who the record is, the fields that differ in red, and
opens the record only when a staff member says it is the same person (the service audits that). `CardNotFoundScreen`
says the number is on no record and offers, never runs by itself, a search by the name and birth date on the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.messages import SearchRequested
from kiosk.widgets.patient import identifier_label, sex_words
from kiosk.widgets.words import Words, cell
from lookup import Demographics, LookupOutcome, PatientRecord


@dataclass
class IdentityConfirmed(Message):
    """A staff member confirmed that the record an identity mismatch found is the person in front of them."""

    patient_id: str


class IdentityMismatchScreen(KioskScreen):
    """Card and record side by side; "this is the person, open" or "not this person, cancel"."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back")]

    def __init__(self, context: KioskContext, outcome: LookupOutcome, patient: PatientRecord) -> None:
        super().__init__(context)
        self.outcome = outcome
        self.patient = patient
        self.card = outcome.card or Demographics()

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("identity.title"), classes="headline")
        yield Words(t("identity.explain"), classes="explain -danger")
        yield Words(self._side_by_side(), id="identities")
        with Horizontal(classes="actions"):
            yield Button(t("identity.confirm"), id="confirm", variant="error")
            yield Button(t("identity.cancel"), id="cancel", variant="primary")

    def on_mount(self) -> None:
        super().on_mount()
        # The safe answer has the focus: Enter alone never opens a record the card does not describe.
        self.query_one("#cancel", Button).focus()

    def banner_lines(self) -> tuple[list[str], bool]:
        return [self.context.t("identity.title")], True

    def _side_by_side(self) -> Table:
        t = self.context.t
        differs = set(self.outcome.differs)
        table = Table(show_header=True, box=None, padding=(0, 2), expand=False)
        table.add_column(cell(""))
        table.add_column(cell(t("identity.card")), style="bold")
        table.add_column(cell(t("identity.record")), style="bold")
        record = self.patient.demographics
        rows = (
            ("name", t("field.name"), self.card.full_name or "—", record.full_name or "—"),
            ("birth_date", t("field.birth_date"), _born(self.card), _born(record)),
            ("sex", t("field.sex"), sex_words(self.context, self.card.sex), sex_words(self.context, record.sex)),
        )
        for field, label, on_card, on_record in rows:
            style = "bold red" if field in differs else ""
            mark = Text(f"✘ {label}" if field in differs else f"  {label}", style=style)
            table.add_row(mark, cell(on_card, style), cell(on_record, style))
        for identifier in self.patient.identifiers:
            label = identifier_label(self.context.t, identifier)
            table.add_row(cell(f"  {label}"), cell(""), cell(identifier.value))
        return table

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.post_message(IdentityConfirmed(self.patient.id))

    @on(Button.Pressed, "#cancel")
    async def _cancel(self) -> None:
        await self.run_action("app.go_back")


class CardNotFoundScreen(KioskScreen):
    """The card's number is on no record; a search by the card's name and birth date is one press away."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back")]

    def __init__(self, context: KioskContext, fallback: Demographics) -> None:
        super().__init__(context)
        self.fallback = fallback

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("card-notfound.title"), classes="headline")
        yield Words(t("card-notfound.body"), classes="explain")
        with Horizontal(classes="actions"):
            yield Button(t("card-notfound.search"), id="search-card", variant="primary")
            yield Button(t("action.back"), id="back")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#search-card", Button).focus()

    @on(Button.Pressed, "#search-card")
    def _search(self) -> None:
        self.post_message(SearchRequested(self.fallback))

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")


def _born(person: Demographics) -> str:
    if person.birth_date is not None:
        return format_date(person.birth_date)
    return str(person.birth_year) if person.birth_year else "—"
