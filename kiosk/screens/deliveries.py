"""The deliveries screen of the admin console: every message sent to the server, newest first, in its delivery state
(sent, retrying with its next try and last fault, delivered with the server's id and time, given up with the reason),
filtered by state, kind and text, and exported as CSV to the print folder. Never a payload, never a name."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Select

from kiosk.deliveries import KINDS, DeliveryFilter, export_csv, kind_words, reason_words, state_words
from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.words import Words, cell
from offline_cache import DeliveryState, OutboxItem

log = logging.getLogger(__name__)

Lister = Callable[[DeliveryFilter], Sequence[OutboxItem]]
"""Reads the messages a filter selects (from the cache, which may be a database on the network: run off the loop)."""
_COLUMNS = (
    "deliveries.col.queued",
    "deliveries.col.kiosk",
    "deliveries.col.kind",
    "deliveries.col.state",
    "deliveries.col.attempts",
    "deliveries.col.when",
    "deliveries.col.server-id",
    "deliveries.col.reason",
)
_STATE_STYLE = {
    DeliveryState.SENT: "cyan",
    DeliveryState.RETRYING: "yellow",
    DeliveryState.DELIVERED: "green",
    DeliveryState.GIVEN_UP: "bold red",
}


def _local(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone().strftime("%d/%m/%Y %H:%M:%S")


class DeliveriesScreen(KioskScreen):
    """The messages of the outbox in a table, with a state, kind and text filter and a CSV export."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back"), ("f5", "refresh", "refresh")]

    def __init__(self, context: KioskContext, lister: Lister, export_dir: Path) -> None:
        super().__init__(context)
        self._lister = lister
        self._export_dir = export_dir
        self.shown: tuple[OutboxItem, ...] = ()
        """The messages the table lists now, in its order."""
        self._chosen = DeliveryFilter()
        self._note = ""

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("deliveries.title"), classes="headline")
        yield Words(t("deliveries.explain"), classes="explain")
        with Horizontal(id="delivery-filters"):
            states = [(state_words(t, state), state) for state in DeliveryState]
            yield Select[DeliveryState](
                states, prompt=t("deliveries.any-state"), id="state", value=self._chosen.state or Select.NULL
            )
            kinds = [(kind_words(t, kind), kind) for kind in KINDS]
            yield Select[str](kinds, prompt=t("deliveries.any-kind"), id="kind", value=self._chosen.kind or Select.NULL)
            yield Input(self._chosen.search or "", placeholder=t("deliveries.search"), id="search")
        yield Words(self._note, id="deliveries-count", classes="explain")
        yield DataTable(id="delivery-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="actions"):
            yield Button(t("deliveries.export"), id="export", variant="primary")
            yield Button(t("admin.refresh"), id="refresh")
            yield Button(t("action.back"), id="back")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#delivery-table", DataTable)
        for key in _COLUMNS:
            table.add_column(cell(self.context.t(key)))
        self.action_refresh()

    def action_refresh(self) -> None:
        self.run_worker(self._load(), name="deliveries", group="deliveries", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        t = self.context.t
        try:
            found = tuple(await asyncio.to_thread(self._lister, self._chosen))
        except Exception as exc:  # the console must say what broke, not crash
            log.warning("deliveries unavailable: %s", type(exc).__name__)
            self._show((), t("deliveries.error", reason=type(exc).__name__))
            return
        self._show(found, t("deliveries.count", n=len(found)) if found else t("deliveries.none"))

    def _show(self, items: tuple[OutboxItem, ...], note: str) -> None:
        t = self.context.t
        self.shown = items
        self._note = note
        self.query_one("#deliveries-count", Words).update(note)
        table = self.query_one("#delivery-table", DataTable)
        table.clear()
        for position, item in enumerate(items):
            waiting = item.delivery in (DeliveryState.SENT, DeliveryState.RETRYING)
            # Waiting: when it is tried next; delivered: the server's time; given up: when that was decided.
            when = item.next_attempt_at if waiting else item.server_time or item.updated_at
            table.add_row(
                cell(_local(item.created_at)),
                cell(item.kiosk or "—"),
                cell(kind_words(t, item.kind)),
                cell(state_words(t, item.delivery), _STATE_STYLE[item.delivery]),
                cell(str(item.attempts)),
                cell(_local(when)),
                cell(item.server_id or "—"),
                cell(reason_words(t, item.reason) or "—"),
                key=str(position),
            )

    @on(Select.Changed, "#state")
    def _state_chosen(self, event: Select.Changed) -> None:
        state = event.value if isinstance(event.value, DeliveryState) else None
        self._filter(self._chosen.model_copy(update={"state": state}))

    @on(Select.Changed, "#kind")
    def _kind_chosen(self, event: Select.Changed) -> None:
        kind = event.value if isinstance(event.value, str) else None
        self._filter(self._chosen.model_copy(update={"kind": kind}))

    @on(Input.Changed, "#search")
    def _text_typed(self, event: Input.Changed) -> None:
        self._filter(self._chosen.model_copy(update={"search": event.value.strip()[:200] or None}))

    def _filter(self, chosen: DeliveryFilter) -> None:
        if chosen != self._chosen:
            self._chosen = chosen
            self.action_refresh()

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.run_worker(self._export(), name="deliveries-export", group="deliveries-export", exit_on_error=False)

    async def _export(self) -> None:
        t = self.context.t
        items = self.shown
        try:
            path = await asyncio.to_thread(export_csv, items, self._export_dir, self.context.clock())
        except OSError as exc:
            log.warning("deliveries not exported: %s", type(exc).__name__)
            self.notify(t("deliveries.export-failed", reason=exc.strerror or type(exc).__name__), markup=False)
            return
        self.notify(t("deliveries.exported", n=len(items), file=str(path)), timeout=10, markup=False)

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self) -> None:
        self.action_refresh()

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")
