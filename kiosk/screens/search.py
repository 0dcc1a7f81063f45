"""The manual search form: a typed code, or name, birth date or year, sex, province and phone.

Typing without accents works: the matching engine folds accents itself, so the form passes text on as typed.
In the lobby only the code field is offered: a patient must not browse other people's names. What cannot be searched
is said precisely and stays on screen until the clerk changes it: a date that does not exist, a birth after today,
a number with the wrong count of digits.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal
from textual.widgets import Button, Input, Label, Select

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.keypad import NumericKeypad
from kiosk.widgets.messages import ScanTextReceived, SearchRequested
from kiosk.widgets.words import Words
from lookup import Demographics, IdentifierKind, Sex, value_problem

_FIELDS = ("family", "middle", "given", "birth", "province", "phone")
_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})|(\d{2})(\d{2})(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ID_LIKE = re.compile(r"[A-Za-z]{0,2}\d+")
_ID_KINDS = (IdentifierKind.CCCD, IdentifierKind.BHYT, IdentifierKind.CMND)


class NoSuchDate(ValueError):
    """Written as a date, but the calendar has no such day (31/02/1990)."""


def read_birth(text: str) -> tuple[dt.date | None, int | None]:
    """A birth date as dd/mm/yyyy (also with - or ., or ddmmyyyy, or yyyy-mm-dd), or a year alone; raises
    `NoSuchDate` for a well-written day the calendar lacks, ValueError for anything else."""
    text = text.strip()
    if not text:
        return None, None
    if text.isdigit() and len(text) == 4:
        return None, int(text)
    if day_first := _DAY_FIRST.fullmatch(text):
        day, month, year = (int(g) for g in day_first.groups() if g is not None)
    elif iso := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in iso.groups())
    else:
        raise ValueError("birth")
    try:
        return dt.date(year, month, day), None
    except ValueError:
        raise NoSuchDate("birth") from None


def birth_problem(text: str, today: dt.date) -> str | None:
    """The catalogue key of what is wrong with a birth field (read with `read_birth`), or None."""
    try:
        born, year = read_birth(text)
    except NoSuchDate:
        return "search.no-such-date"
    except ValueError:
        return "search.bad-birth"
    if (born is not None and born > today) or (year is not None and year > today.year):
        return "search.future-birth"
    return None


def code_problem(code: str) -> str | None:
    """The catalogue key when a typed number has the shape of no identifier the kiosk reads (a CCCD has 12 digits,
    a BHYT code 10 digits or 2 letters and 13 digits), or None. Other codes (card texts, links) pass on as typed."""
    compact = code.replace(" ", "").upper()
    if not _ID_LIKE.fullmatch(compact):
        return None
    if all(value_problem(kind, compact) is not None for kind in _ID_KINDS):
        return "search.bad-code"
    return None


class SearchScreen(KioskScreen):
    """A form the clerk fills with what the patient says; Enter in any field searches."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.start_over", "back")]

    def __init__(self, context: KioskContext, *, code: str = "") -> None:
        super().__init__(context)
        self._values: dict[str, str] = {"code": code} if code else {}
        self._sex: Sex | None = None

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("search.title-lobby" if self.context.lobby else "search.title"), classes="headline")
        with Grid(classes="form"):
            yield Label(t("search.code"), markup=False)
            yield Input(
                self._values.get("code", ""), placeholder=t("search.code-placeholder"), id="code", select_on_focus=False
            )
            if not self.context.lobby:
                for name in _FIELDS:
                    yield Label(t(f"search.{name}"), markup=False)
                    yield Input(self._values.get(name, ""), placeholder=t(f"search.{name}-placeholder"), id=name)
                yield Label(t("search.sex"), markup=False)
                options = [(t(f"sex.{s.value}"), s) for s in (Sex.FEMALE, Sex.MALE, Sex.OTHER)]
                yield Select[Sex](options, prompt=t("search.sex-any"), id="sex", value=self._sex or Select.NULL)
        yield Words("", id="form-error", classes="notice")
        with Horizontal(classes="actions"):
            yield Button(t("search.go"), id="go", variant="primary")
            yield Button(t("action.back"), id="back")
        if self.context.lobby:
            yield NumericKeypad(t, "#code")  # a touch screen in the lobby has no keyboard

    def on_mount(self) -> None:
        super().on_mount()
        first = "#code" if self.context.lobby or self._values.get("code") else "#family"
        self.query_one(first, Input).focus()

    def take_typed(self, text: str) -> None:
        """Keys typed before a field had the focus (the screen was still opening): they belong to the code."""
        field = self.query_one("#code", Input)
        field.value += text.replace("\r", "")
        field.cursor_position = len(field.value)
        field.focus()
        if text.endswith("\r"):
            self.submit()

    async def relabel(self) -> None:
        self._remember()
        await super().relabel()

    def _remember(self) -> None:
        self._values = {i.id: i.value for i in self.query(Input) if i.id}
        if not self.context.lobby:
            value = self.query_one("#sex", Select).value
            self._sex = value if isinstance(value, Sex) else None

    def _error(self, key: str, **values: object) -> None:
        self.query_one("#form-error", Words).update(self.context.t(key, **values) if key else "")

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def submit(self) -> None:
        self._remember()
        scanned = next((v for v in self._values.values() if "|" in v or v.startswith(("shc:/", "shlink:/"))), None)
        if scanned is not None:
            # A card scanned while a field had the focus: the scanner typed into the field. Read it as a scan.
            for field in self.query(Input):
                if field.value == scanned:
                    field.value = ""
            self.post_message(ScanTextReceived(scanned, "wedge"))
            return
        code = self._values.get("code", "").strip()
        code_field = self.query_one("#code", Input)
        code_field.remove_class("-invalid")
        if code:
            if problem := code_problem(code):
                # Said under the field (marked red) until the next try, never as a toast that is gone in seconds.
                code_field.add_class("-invalid")
                self._error(problem, n=len(code.replace(" ", "")))
                return
            self._error("")
            self.post_message(ScanTextReceived(code, "keyboard"))
            return
        if self.context.lobby:
            self._error("search.need-code")
            return
        birth = self._values.get("birth", "").strip()
        if problem := birth_problem(birth, self.context.today()):
            self._error(problem, date=birth)
            return
        birth_date, birth_year = read_birth(birth)
        try:
            query = Demographics(
                family=self._values.get("family") or None,
                middle=self._values.get("middle") or None,
                given=self._values.get("given") or None,
                birth_date=birth_date,
                birth_year=birth_year,
                sex=self._sex,
                province=self._values.get("province") or None,
                phone=self._values.get("phone") or None,
            )
        except ValidationError as exc:
            fields = {str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]}
            self._error("search.bad-phone" if "phone" in fields else "search.bad-input")
            return
        if not (query.given or query.family) or (query.birth_year is None and not query.phone):
            self._error("search.need-more")
            return
        self._error("search.searching")
        self.post_message(SearchRequested(query))

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.start_over")
