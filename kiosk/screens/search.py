"""The manual search form: a typed code, or name, birth date or year, sex, province and phone.

Typing without accents works: the matching engine folds accents itself, so the form passes text on as typed.
In the lobby only the code field is offered: a patient must not browse other people's names.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal
from textual.widgets import Button, Input, Label, Select

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.messages import ScanTextReceived, SearchRequested
from kiosk.widgets.words import Words
from lookup import Demographics, Sex

_FIELDS = ("family", "middle", "given", "birth", "province", "phone")


def read_birth(text: str) -> tuple[dt.date | None, int | None]:
    """A birth date as dd/mm/yyyy (also with - or .), or a year alone; raises ValueError when it is neither."""
    text = text.strip()
    if not text:
        return None, None
    if text.isdigit() and len(text) == 4:
        return None, int(text)
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d%m%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern).date(), None
        except ValueError:
            continue
    raise ValueError("birth")


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

    def _error(self, key: str) -> None:
        self.query_one("#form-error", Words).update(self.context.t(key))

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
        if code:
            self.post_message(ScanTextReceived(code, "keyboard"))
            return
        if self.context.lobby:
            self._error("search.need-code")
            return
        try:
            birth_date, birth_year = read_birth(self._values.get("birth", ""))
        except ValueError:
            self._error("search.bad-birth")
            return
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
