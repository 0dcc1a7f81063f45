"""The review of possible duplicate patients (admin console, ER): the pairs waiting, likeliest first; one pair side by
side (name, sex, birth date, identifiers, province of each record) with why the matching engine paired them; and
the staff member's decision: "Same person", "Not the same person" or "Later".

A decision needs a staff member signed in: it is kept with their id and the time. "Same person" goes to the server
as a Linkage where the server takes one, and the screen says where it went (sent, waiting in the outbox, kept here
because the server does not take it or cannot be asked now); "Not the same person" stays on this kiosk, which the
screen says too. Either way the pair is never offered again. "Later" leaves the pair waiting and moves on. "Scan
the cache" looks through every cached patient for pairs the checks at each lookup could not see. Names and numbers
are the server's text, shown as written (never read as markup).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable

from kiosk.i18n import Translator
from kiosk.screens.base import KioskScreen
from kiosk.widgets.agreements import LEVEL_MARK, agreement_words
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.patient import PatientCard, system_label
from kiosk.widgets.words import Words, cell
from lookup.domain.duplicates import DecisionResult, DecisionStatus, DuplicateDecision, DuplicatePair, QueuedDuplicate
from lookup.domain.model import PatientRecord

if TYPE_CHECKING:
    from kiosk.services.duplicates import DuplicateDesk

log = logging.getLogger(__name__)

DeskOpener = Callable[[], "DuplicateDesk | None"]
"""Builds the review desk on this kiosk's cache (None without one); it may open the cache, so it is run off the loop."""
_COLUMNS = ("duplicates.col.score", "duplicates.col.first", "duplicates.col.second", "duplicates.col.why")
_DECISIONS = {"same": DuplicateDecision.SAME, "different": DuplicateDecision.DIFFERENT}
_WARNING = frozenset({DecisionStatus.REFUSED, DecisionStatus.FAILED, DecisionStatus.DECIDED_BEFORE})


def _who(record: PatientRecord, t: Translator) -> str:
    """A record in one line of the list: its name and birth date (or year)."""
    person = record.demographics
    born = format_date(person.birth_date) if person.birth_date is not None else str(person.birth_year or "—")
    return f"{person.full_name or t('patient.no-name')} · {born}"


class DuplicatesScreen(KioskScreen):
    """The possible duplicates waiting for a decision, one pair side by side, and the decision buttons."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back"), ("f5", "refresh", "refresh")]

    def __init__(self, context: KioskContext, opener: DeskOpener) -> None:
        super().__init__(context)
        self._opener = opener
        self._desk: DuplicateDesk | None = None
        self.shown: tuple[QueuedDuplicate, ...] = ()
        """The pairs the list shows now, in its order."""
        self.chosen: QueuedDuplicate | None = None
        """The pair shown side by side (the list's highlighted row)."""
        self.result: DecisionResult | None = None
        """What became of the last decision taken here."""
        self._note = ""
        self._busy = False

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("duplicates.title"), classes="headline")
        yield Words(t("duplicates.explain"), classes="explain")
        yield Words(self._note or t("admin.loading"), id="duplicates-note", classes="explain")
        yield DataTable(id="duplicate-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="duplicate-pair"):
            yield Vertical(id="duplicate-first")
            yield Vertical(id="duplicate-second")
        yield Words("", id="duplicate-why")
        with Horizontal(classes="actions"):
            yield Button(t("duplicates.same"), id="same", variant="error", disabled=True)
            yield Button(t("duplicates.different"), id="different", variant="primary", disabled=True)
            yield Button(t("duplicates.later"), id="later", disabled=True)
            yield Button(t("duplicates.scan"), id="scan")
            yield Button(t("action.back"), id="back")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#duplicate-table", DataTable)
        for key in _COLUMNS:
            table.add_column(cell(self.context.t(key)))
        self.action_refresh()

    # -- loading ---------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._work(self._load(send_pending=True))

    def _work(self, job: Coroutine[Any, Any, None]) -> None:
        self.run_worker(job, name="duplicates", group="duplicates", exclusive=True, exit_on_error=False)

    async def _opened(self) -> DuplicateDesk | None:
        if self._desk is None:
            self._desk = await asyncio.to_thread(self._opener)
        return self._desk

    async def _load(self, *, send_pending: bool = False, note: str = "") -> None:
        t = self.context.t
        try:
            desk = await self._opened()
            if desk is None:
                await self._show((), t("duplicates.no-cache"))
                return
            if send_pending:
                await desk.send_pending()
            found = tuple(await asyncio.to_thread(desk.waiting))
        except Exception as exc:  # the console says what broke, and stays up
            log.warning("possible duplicates unavailable: %s", type(exc).__name__)
            await self._show((), t("duplicates.error", reason=type(exc).__name__))
            return
        count = t("duplicates.count", n=len(found)) if found else t("duplicates.none")
        await self._show(found, f"{note}  {count}".strip())

    async def _show(self, pairs: tuple[QueuedDuplicate, ...], note: str) -> None:
        t = self.context.t
        self.shown = pairs
        self._note = note
        self.query_one("#duplicates-note", Words).update(note)
        table = self.query_one("#duplicate-table", DataTable)
        table.clear()
        for position, queued in enumerate(pairs):
            pair = queued.pair
            table.add_row(
                Text(f"{round(pair.score * 100)} %", style="bold"),
                cell(_who(pair.first, t)),
                cell(_who(pair.second, t)),
                self._numbers(pair).append("  ").append_text(agreement_words(t, pair.agreements)),
                key=str(position),
            )
        await self._choose(pairs[0] if pairs else None)

    # -- one pair ----------------------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#duplicate-table")
    async def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        position = int(event.row_key.value) if event.row_key.value is not None else -1
        if 0 <= position < len(self.shown):
            await self._choose(self.shown[position])

    async def _choose(self, queued: QueuedDuplicate | None) -> None:
        t = self.context.t
        if queued is not self.chosen:
            self.chosen = queued
            for side in ("first", "second"):
                box = self.query_one(f"#duplicate-{side}", Vertical)
                await box.remove_children()
                if queued is not None:
                    record = queued.pair.first if side == "first" else queued.pair.second
                    title = Words(t(f"duplicates.{side}", id=record.id), classes="section-title")
                    await box.mount_all([title, PatientCard(self.context, record)])
        why = Text()
        if queued is not None:
            why.append(t("duplicates.why"), style="bold").append(" ")
            why.append_text(self._numbers(queued.pair)).append("  ")
            why.append_text(agreement_words(t, queued.pair.agreements))
        self.query_one("#duplicate-why", Words).update(why)
        self._enable()

    def _numbers(self, pair: DuplicatePair) -> Text:
        """The identifiers both records carry: one number on both, or two different ones."""
        t, text = self.context.t, Text()
        for identifier in pair.identifiers:
            mark, style = LEVEL_MARK[identifier.level]
            if text:
                text.append("  ")
            text.append(f"{mark} ", style=style)
            text.append(t(f"duplicates.number-{identifier.level}", kind=system_label(t, identifier.system)))
        return text

    def _enable(self) -> None:
        signed_in = self.context.staff.staff_id is not None
        decides = self._desk is not None and self._desk.decides
        for name in ("same", "different"):
            button = self.query_one(f"#{name}", Button)
            button.disabled = self._busy or self.chosen is None or not (signed_in and decides)
        self.query_one("#later", Button).disabled = self._busy or len(self.shown) < 2
        self.query_one("#scan", Button).disabled = self._busy
        if self.chosen is not None and not signed_in:
            self.query_one("#duplicates-note", Words).update(f"{self._note}  {self.context.t('duplicates.sign-in')}")

    # -- decisions ---------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#same")
    @on(Button.Pressed, "#different")
    def _decision_pressed(self, event: Button.Pressed) -> None:
        chosen, staff = self.chosen, self.context.staff.staff_id
        if chosen is None or staff is None or event.button.id not in _DECISIONS:
            return
        self._work(self._decide(chosen.pair, _DECISIONS[event.button.id], staff))

    async def _decide(self, pair: DuplicatePair, decision: DuplicateDecision, staff_id: str) -> None:
        desk = self._desk
        if desk is None:
            return
        self._busy = True
        self._enable()
        try:
            result = await desk.decide(pair, decision, staff_id)
        except Exception as exc:  # the desk answers with outcomes; anything else is said, not raised
            log.warning("a duplicate decision failed: %s", type(exc).__name__)
            result = DecisionResult(status=DecisionStatus.FAILED)
        finally:
            self._busy = False
        self.result = result
        said = self.context.t(f"duplicates.status.{result.status.value}")
        self.notify(said, severity="warning" if result.status in _WARNING else "information", markup=False)
        await self._load(note=said)

    @on(Button.Pressed, "#later")
    def _later_pressed(self) -> None:
        table = self.query_one("#duplicate-table", DataTable)
        if table.row_count > 1:
            table.move_cursor(row=(table.cursor_row + 1) % table.row_count)

    # -- scanning ----------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#scan")
    def _scan_pressed(self) -> None:
        self._work(self._scan())

    async def _scan(self) -> None:
        t = self.context.t
        self._busy = True
        self.query_one("#duplicates-note", Words).update(t("duplicates.scanning"))
        self._enable()
        try:
            desk = await self._opened()
            found = await asyncio.to_thread(desk.scan) if desk is not None else None
        except Exception as exc:
            log.warning("the duplicate scan failed: %s", type(exc).__name__)
            found = None
        finally:
            self._busy = False
        if found is None:
            await self._load(note=t("duplicates.scan-failed"))
            return
        await self._load(note=t("duplicates.scanned", patients=found.patients, pairs=found.pairs, new=found.new))

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")
