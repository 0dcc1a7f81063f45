"""The admin screen: server, trust list, cache and outbox states, and lookups per hour. No patient data. F7 opens
the deliveries screen (`kiosk.screens.deliveries`), F4 the activity log's search and counts
(`kiosk.screens.activity`), F8 in the ER the review of possible duplicate patients (`kiosk.screens.duplicates`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button

from kiosk.i18n import Translator, fault_words
from kiosk.screens.base import KioskScreen
from kiosk.settings import Mode, Settings
from kiosk.widgets.chart import HourlyChart
from kiosk.widgets.context import KioskContext, format_age
from kiosk.widgets.words import Words, cell

if TYPE_CHECKING:
    from kiosk.activity_log import ActivitySource
    from kiosk.app import KioskApp
    from kiosk.deliveries import DeliveryFilter
    from kiosk.services.ports import KioskServices
    from offline_cache import OutboxItem

log = logging.getLogger(__name__)

KeyRows = Sequence[tuple[str, str]]
"""The admin screen's rows: (catalogue key or label, value)."""
AdminRows = Callable[[], Awaitable[KeyRows]]
"""Reads the current state as (label key, value) rows; values never hold patient data."""


class AdminScreen(KioskScreen):
    """The state of this kiosk at a glance, refreshed on demand."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "app.go_back", "back"),
        ("f5", "refresh", "refresh"),
        ("f7", "deliveries", "deliveries"),
        ("f4", "activity", "activity log"),
        ("f8", "duplicates", "possible duplicates"),
    ]

    def __init__(self, context: KioskContext, rows: AdminRows, per_hour: Callable[[], Sequence[int]]) -> None:
        super().__init__(context)
        self._rows = rows
        self._per_hour = per_hour
        self._shown: KeyRows = ()

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("admin.title"), classes="headline")
        with VerticalScroll():
            yield Words(self._table(), id="state")
            yield HourlyChart(self._per_hour(), t, id="chart")
        with Horizontal(classes="actions"):
            yield Button(t("admin.refresh"), id="refresh", variant="primary")
            yield Button(t("admin.deliveries"), id="deliveries")
            yield Button(t("admin.activity"), id="activity")
            if self.context.mode is Mode.ER:
                yield Button(t("admin.duplicates"), id="duplicates")
            yield Button(t("action.back"), id="back")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_refresh()

    def action_deliveries(self) -> None:
        """The deliveries screen on this kiosk's cache (its own outbox, and the hospital's when it shares one)."""
        from kiosk.deliveries import list_deliveries
        from kiosk.screens.deliveries import DeliveriesScreen

        kiosk = cast("KioskApp", self.app)
        cache = kiosk.services.cache

        def listed(chosen: DeliveryFilter) -> Sequence[OutboxItem]:
            opened = cache.get()
            return list_deliveries(opened.outbox if opened is not None else None, chosen)

        self.app.push_screen(DeliveriesScreen(self.context, listed, kiosk.settings.print_dir))

    @on(Button.Pressed, "#deliveries")
    def _deliveries_pressed(self) -> None:
        self.action_deliveries()

    def action_activity(self) -> None:
        """The activity screen on this kiosk's cache's log (its own, and the hospital's when it shares one)."""
        from kiosk.screens.activity import ActivityScreen

        cache = cast("KioskApp", self.app).services.cache

        def source() -> ActivitySource | None:
            opened = cache.get()
            return opened.activity if opened is not None else None

        self.app.push_screen(ActivityScreen(self.context, source))

    @on(Button.Pressed, "#activity")
    def _activity_pressed(self) -> None:
        self.action_activity()

    def action_duplicates(self) -> None:
        """The review of possible duplicate patients (`kiosk.screens.duplicates`): in the ER only, the role that
        sends the decisions, since it shows patients side by side."""
        if self.context.mode is not Mode.ER:
            return
        from kiosk.screens.duplicates import DuplicatesScreen
        from kiosk.services.duplicates import desk_opener

        self.app.push_screen(DuplicatesScreen(self.context, desk_opener(cast("KioskApp", self.app).services)))

    @on(Button.Pressed, "#duplicates")
    def _duplicates_pressed(self) -> None:
        self.action_duplicates()

    def _table(self) -> Table:
        t = self.context.t
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, value in self._shown or ((("admin.loading", "")),):
            table.add_row(cell(t(key) if t.has(key) else key), cell(value))
        return table

    def action_refresh(self) -> None:
        self.run_worker(self._load(), name="admin-status", group="admin", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        try:
            self._shown = await self._rows()
        except Exception as exc:  # the admin screen must show what broke, not crash
            log.warning("admin state unavailable: %s", type(exc).__name__)
            self._shown = (("admin.error", type(exc).__name__),)
        self.query_one("#state", Words).update(self._table())
        chart = self.query_one("#chart", HourlyChart)
        chart.update(HourlyChart.draw(self._per_hour(), self.context.t))

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self) -> None:
        self.action_refresh()

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")


async def kiosk_state(settings: Settings, services: KioskServices, t: Translator, lookups: int) -> KeyRows:
    """The admin screen's rows: server, trust list, outbox and cache figures; never patient data."""
    status = await services.lookup.get().status()
    rows: list[tuple[str, str]] = [
        ("admin.server", str(settings.server or "—")),
        ("admin.online", t("admin.yes") if status.online else t("admin.no")),
        ("admin.last-error", fault_words(t, status.last_fault) or "—"),
        ("admin.breaker", t(f"breaker.{status.breaker}") if t.has(f"breaker.{status.breaker}") else status.breaker),
        ("admin.outbox", t("admin.outbox-counts", queued=status.outbox_queued, delivered=status.outbox_delivered)),
        ("admin.mode", t(f"mode.{settings.mode.value}")),
        ("admin.trust", f"{settings.trust_list or '—'} ({len(services.trust.get())})"),
    ]
    cache = services.cache.get()
    if cache is None:
        rows.append(("admin.cache", t("admin.cache-none")))
    else:
        fields = cache.stats().model_dump(mode="json")
        rows.extend(_cache_row(t, name, value) for name, value in fields.items())
    rows.append(("admin.lookups", str(lookups)))
    return rows


def _cache_row(t: Translator, name: str, value: object) -> tuple[str, str]:
    """One cache figure with its label and value in the clerk's words: sizes in KB or MB, durations in the largest
    sensible unit, yes or no, outbox states by name."""
    key = f"admin.cache.{name}"
    label = t(key) if t.has(key) else t("admin.cache.other", name=name)
    if value is None:
        return label, "—"
    if isinstance(value, bool):
        return label, t("admin.yes") if value else t("admin.no")
    if name.endswith("_bytes") and isinstance(value, int | float):
        return label, format_size(t, value)
    if name.endswith("_seconds") and isinstance(value, int | float):
        return label, format_age(t, value)
    if name == "hospital_cache" and isinstance(value, dict):
        return label, _shared_summary(t, value)
    if isinstance(value, dict):
        states = (f"{t(f'outbox.{k}') if t.has(f'outbox.{k}') else k}: {v}" for k, v in value.items())
        return label, ", ".join(states)
    return label, str(value)


def _shared_summary(t: Translator, shared: dict[str, Any]) -> str:
    """The hospital's shared cache in one line: its state, where it is (never the password) and its figures."""
    state = str(shared.get("state"))
    outbox = shared.get("outbox") or {}
    waiting = int(outbox.get("queued", 0)) + int(outbox.get("sent", 0))
    records = shared.get("records")
    return t(
        "shared.summary",
        state=t(f"shared.{state}") if t.has(f"shared.{state}") else state,
        where=shared.get("where", "—"),
        records="—" if records is None else records,
        waiting=waiting if shared.get("outbox") is not None else "—",
    )


def format_size(t: Translator, size: float) -> str:
    """A size in bytes, KB or MB, with the language's decimal mark."""
    if size < 1024:
        return t("size.bytes", n=int(size))
    unit, scaled = ("size.kb", size / 1024) if size < 1024 * 1024 else ("size.mb", size / (1024 * 1024))
    return t(unit, n=f"{scaled:.1f}".replace(".", t("number.decimal")))
