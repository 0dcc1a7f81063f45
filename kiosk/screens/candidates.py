"""Candidates of a demographic search: score, grade and why, one row each; the clerk chooses explicitly."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.messages import CandidateChosen
from kiosk.widgets.patient import sex_words
from kiosk.widgets.words import Words, cell
from lookup import Candidate, FieldAgreement, MatchGrade

_GRADE_STYLE = {
    MatchGrade.CERTAIN: "bold green",
    MatchGrade.PROBABLE: "bold cyan",
    MatchGrade.POSSIBLE: "yellow",
    MatchGrade.CERTAINLY_NOT: "bright_black",
}
_LEVEL_MARK = {"agrees": ("✔", "green"), "close": ("≈", "yellow"), "differs": ("✘", "red"), "missing": ("·", "")}


class CandidatesScreen(KioskScreen):
    """A table of people who may be the patient. Enter or a click on a row opens that person's record."""

    HINT_KEYS = ("hint.choose", "hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back")]

    def __init__(self, context: KioskContext, candidates: tuple[Candidate, ...]) -> None:
        super().__init__(context)
        self.candidates = candidates

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("candidates.title", n=len(self.candidates)), classes="headline")
        yield Words(t("candidates.explain"), classes="explain")
        yield DataTable(id="candidates", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="actions"):
            yield Button(t("candidates.open"), id="open", variant="primary")
            yield Button(t("action.back"), id="back")

    def on_mount(self) -> None:
        super().on_mount()
        t = self.context.t
        table = self.query_one(DataTable)
        columns = ("col.name", "col.born", "col.sex", "col.province", "col.score", "col.grade", "col.why")
        table.add_columns(*(cell(t(key)) for key in columns))
        for candidate in self.candidates:
            person = candidate.patient.demographics
            born = format_date(person.birth_date) if person.birth_date else str(person.birth_year or "—")
            table.add_row(
                cell(person.full_name),
                cell(born),
                cell(sex_words(self.context, person.sex)),
                cell(person.province or "—"),
                cell(f"{candidate.score:.2f}"),
                Text(self.context.t(f"grade.{candidate.grade.value}"), style=_GRADE_STYLE[candidate.grade]),
                self._explain(candidate.agreements),
                key=candidate.patient.id,
            )
        table.focus()

    def _explain(self, agreements: tuple[FieldAgreement, ...]) -> Text:
        text = Text()
        for agreement in agreements:
            if agreement.level == "missing":
                continue
            mark, style = _LEVEL_MARK[agreement.level]
            if text:
                text.append("  ")
            text.append(f"{mark} ", style=style)
            text.append(self.context.t(f"field.{agreement.field}"))
            if agreement.note:
                text.append(f" ({agreement.note})", style="bright_black")
        return text

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(CandidateChosen(event.row_key.value))

    @on(Button.Pressed, "#open")
    def _open_highlighted(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            if row_key.value is not None:
                self.post_message(CandidateChosen(row_key.value))

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")
