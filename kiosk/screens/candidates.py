"""Candidates of a demographic search: score, grade and why, one row each; the clerk chooses explicitly."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable

from kiosk.screens.base import KioskScreen
from kiosk.widgets.agreements import agreement_words
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.messages import CandidateChosen
from kiosk.widgets.patient import province_words
from kiosk.widgets.words import Words, cell
from lookup import Candidate, FieldAgreement, MatchGrade

_GRADE_STYLE = {
    MatchGrade.CERTAIN: "bold green",
    MatchGrade.PROBABLE: "bold cyan",
    MatchGrade.POSSIBLE: "yellow",
    MatchGrade.CERTAINLY_NOT: "bright_black",
}
_SCORE_WORDS = ((0.5, "score.high"), (0.1, "score.fair"), (0.0, "score.low"))
"""A candidate's share of the chance of being the person, in words: high from one in two, fair from one in ten."""
ROW_CELLS = 3
"""Terminal rows per candidate: a cell is 17-19 px tall in the browser (`kiosk serve`, textual-serve's default font),
so three make a touch target of at least 48 px; a tap one row off must not land on another person."""
_LEADING = (("col.name", 0), ("col.born", 10), ("col.score", 14))
"""The columns before "why", with their widths in cells (the name's is worked out from the screen and the names)."""
NAME_MIN = 22
_TRAILING = (("col.grade", 12), ("col.province", 16))
"""The columns after "why", shown where the screen is wide enough (sex is among the reasons when it was asked)."""
WHY_MIN = 22


class CandidatesScreen(KioskScreen):
    """A table of people who may be the patient. Enter or a click on a row opens that person's record."""

    HINT_KEYS = ("hint.choose", "hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back")]

    def __init__(self, context: KioskContext, candidates: tuple[Candidate, ...], *, cached: bool = False) -> None:
        super().__init__(context)
        self.candidates = candidates
        self.cached = cached
        """Found in this kiosk's cache while the server was out of reach: only people looked up here before."""

    def banner_lines(self) -> tuple[list[str], bool]:
        return ([self.context.t("search.cache-only")] if self.cached else []), False

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
        # Name, birth, score and why come first: at 80 columns the "why" still shows (wrapped in the row's three
        # lines); grade and province follow, in view where the screen is wide enough. A long name wraps rather than
        # being cut (a clerk tells people apart by it), and takes one line where the screen has room.
        fixed = (*_LEADING[1:], *_TRAILING)
        room = self.app.size.width - 2 - 2 * (len(fixed) + 2) - sum(w for _, w in fixed)
        longest = max((cell_len(c.patient.demographics.full_name) for c in self.candidates), default=0)
        name_width = max(NAME_MIN, min(longest, room - WHY_MIN))
        widths = {"col.name": name_width, **dict(fixed), "col.why": max(WHY_MIN, room - name_width)}
        for key in ("col.name", *(k for k, _ in _LEADING[1:]), "col.why", *(k for k, _ in _TRAILING)):
            table.add_column(cell(t(key)), width=widths[key])
        for candidate in self.candidates:
            person = candidate.patient.demographics
            born = format_date(person.birth_date) if person.birth_date else str(person.birth_year or "—")
            table.add_row(
                cell(person.full_name),
                cell(born),
                self._score(candidate.score),
                self._explain(candidate.agreements),
                Text(self.context.t(f"grade.{candidate.grade.value}"), style=_GRADE_STYLE[candidate.grade]),
                cell(province_words(self.context, person.province, person.address)),
                key=candidate.patient.id,
                height=ROW_CELLS,
            )
        table.focus()

    def _score(self, score: float) -> Text:
        """The share as a clerk reads it: a percentage and a word (the 0..1 number stays in the JSON)."""
        percent = round(score * 100)
        word = next(key for floor, key in _SCORE_WORDS if score >= floor)
        return Text(f"{percent} % " if percent else "<1 % ", style="bold").append(self.context.t(word))

    def _explain(self, agreements: tuple[FieldAgreement, ...]) -> Text:
        return agreement_words(self.context.t, agreements)

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
