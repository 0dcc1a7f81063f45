"""The activity screen of the admin console: the actions the kiosks audited (`offline_cache.activity`), searched by
period, kiosk, staff member, outcome and kind of identifier, listed newest first, and counted per hour or per day:
a chart and the numbers for lookups, not found, card and record differing, break-glass (and per staff member),
answers from the offline cache, and unsigned or invalid documents shown. The log holds no patient data; kiosk names,
staff ids and event ids are shown as written, never as markup, and every other word in the reader's language."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Select, Sparkline
from textual.worker import Worker

from kiosk.activity_log import CHARTS, ActivitySource, local_zone, series
from kiosk.i18n import Translator
from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.words import Words, cell
from offline_cache.activity import ActivityChoices, ActivityCounts, ActivityEntry, ActivityQuery, Period

log = logging.getLogger(__name__)

Source = Callable[[], ActivitySource | None]
"""The log to read, or None when the kiosk keeps none (no offline cache); called off the event loop."""
_COLUMNS = (
    "activity.col.time",
    "activity.col.kiosk",
    "activity.col.staff",
    "activity.col.mode",
    "activity.col.action",
    "activity.col.outcome",
    "activity.col.identifier",
    "activity.col.offline",
    "activity.col.unsigned",
    "activity.col.invalid",
)
_FILTERS = (
    ("kiosk", "activity.any-kiosk"),
    ("staff", "activity.any-staff"),
    ("outcome", "activity.any-outcome"),
    ("identifier_type", "activity.any-identifier"),
)
_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y")
_ALARMING = {"wrong-patient": "bold red", "identity-mismatch": "yellow", "error": "red", "refused": "yellow"}
_NO_CHOICES = ActivityChoices(kiosks=[], staff=[], outcomes=[], identifier_types=[])


def read_time(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """A time as a person types it (`2026-03-14 08:00`, `14/03/2026`...), in `zone`; None when empty. Raises
    `ValueError` for anything else."""
    text = " ".join(text.split())
    if not text:
        return None
    for shape in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, shape).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValueError("not a date or a date and time")


def word(t: Translator, group: str, value: str | None) -> str:
    """A value of the log (an action, outcome or kind of identifier) in the reader's words; as written when the
    catalogue has none for it, and a dash for none."""
    if value is None:
        return "—"
    key = f"activity.{group}.{value}"
    return t(key) if t.has(key) else value


def figure_key(figure: str) -> str:
    return f"activity.chart.{figure.replace('_', '-')}"


class ActivityScreen(KioskScreen):
    """The activity log searched in a table, and counted in charts with their numbers."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back"), ("f5", "refresh", "refresh")]
    DEFAULT_CSS = """
    ActivityScreen #activity-body { height: 1fr; }
    ActivityScreen .filters { height: auto; margin-top: 1; }
    ActivityScreen .filters Input { width: 1fr; margin-right: 1; }
    ActivityScreen .filters Select { width: 1fr; margin-right: 1; }
    ActivityScreen #by { width: 28; }
    ActivityScreen #activity, ActivityScreen #counts { height: auto; max-height: 16; }
    ActivityScreen #counts-period { margin-top: 1; }
    ActivityScreen Sparkline { height: 2; margin-bottom: 1; }
    """

    def __init__(self, context: KioskContext, source: Source, zone: dt.tzinfo | None = None) -> None:
        super().__init__(context)
        self._source = source
        self.zone = zone or local_zone()
        self.filters = ActivityQuery()
        """What the table and the counts are of now."""
        self.by: Period = "hour"
        self.shown: tuple[ActivityEntry, ...] = ()
        """The actions the table lists now, newest first."""
        self.counts: ActivityCounts | None = None
        """The counts the charts and the numbers show now."""
        self._choices = _NO_CHOICES
        self._typed = {"since": "", "until": ""}
        self._note = ""

    # -- drawing ---------------------------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("activity.title"), classes="headline")
        yield Words(t("activity.explain"), classes="explain")
        with VerticalScroll(id="activity-body"):
            with Horizontal(id="activity-period", classes="filters"):
                yield Input(self._typed["since"], placeholder=t("activity.since"), id="since")
                yield Input(self._typed["until"], placeholder=t("activity.until"), id="until")
                periods = [(t("activity.by-hour"), "hour"), (t("activity.by-day"), "day")]
                yield Select[str](periods, id="by", value=self.by, allow_blank=False)
            with Horizontal(id="activity-filters", classes="filters"):
                for name, prompt in _FILTERS:
                    options = self._options(name)
                    chosen = getattr(self.filters, name)
                    value = chosen if chosen in {v for _, v in options} else Select.NULL
                    yield Select[str](options, prompt=t(prompt), id=f"filter-{name}", value=value)
            yield Words(self._note, id="activity-note", classes="explain")
            yield DataTable(id="activity", cursor_type="row", zebra_stripes=True)
            yield Words("", id="counts-period", classes="headline")
            for figure in CHARTS:
                yield Words("", id=f"line-{figure}")
                yield Sparkline([], id=f"chart-{figure}", classes="activity-chart")
            yield Words("", id="glass-by-staff")
            yield DataTable(id="counts", zebra_stripes=True)
        with Horizontal(classes="actions"):
            yield Button(t("admin.refresh"), id="refresh", variant="primary")
            yield Button(t("action.back"), id="back")

    def _options(self, name: str) -> list[tuple[str, str]]:
        t, found = self.context.t, self._choices
        if name == "kiosk":
            return [(k, k) for k in found.kiosks]
        if name == "staff":
            return [(s, s) for s in found.staff]
        if name == "outcome":
            return [(word(t, "outcome", o), o) for o in found.outcomes]
        return [(word(t, "id", i), i) for i in found.identifier_types]

    def on_mount(self) -> None:
        super().on_mount()
        t = self.context.t
        table = self.query_one("#activity", DataTable)
        for key in _COLUMNS:
            table.add_column(cell(t(key)))
        numbers = self.query_one("#counts", DataTable)
        numbers.add_column(cell(t("activity.col.period")))
        for figure in CHARTS:
            numbers.add_column(cell(t(figure_key(figure))))
        self.action_refresh()

    # -- reading ---------------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        # The method, not a coroutine made now: a refresh that replaces one not yet started leaves nothing unawaited.
        self._reading: Worker[None] = self.run_worker(
            self._load, name="activity", group="activity", exclusive=True, exit_on_error=False
        )

    def _read(self) -> tuple[list[ActivityEntry], ActivityCounts, ActivityChoices] | None:
        source = self._source()
        if source is None:
            return None
        return source.search(self.filters), source.counts(self.filters, by=self.by, zone=self.zone), source.choices()

    async def _load(self) -> None:
        t = self.context.t
        try:
            found = await asyncio.to_thread(self._read)
        except Exception as exc:  # the console must say what broke, not crash
            log.warning("activity log unavailable: %s", type(exc).__name__)
            self._show_rows((), t("activity.error", reason=type(exc).__name__))
            return
        if found is None:
            self._show_rows((), t("activity.no-log"))
            return
        entries, counts, choices = found
        self._show_rows(tuple(entries), t("activity.count", n=len(entries)) if entries else t("activity.none"))
        self._show_counts(counts)
        if choices != self._choices:
            self._choices = choices
            self._refill_filters()

    def _show_rows(self, entries: tuple[ActivityEntry, ...], note: str) -> None:
        t = self.context.t
        self.shown = entries
        self._note = note
        self.query_one("#activity-note", Words).update(note)
        table = self.query_one("#activity", DataTable)
        table.clear()
        for position, entry in enumerate(entries):
            table.add_row(
                cell(entry.recorded_at.astimezone(self.zone).strftime("%d/%m/%Y %H:%M:%S")),
                cell(entry.kiosk),
                cell(entry.staff or "—"),
                cell(t(f"mode.{entry.mode}") if t.has(f"mode.{entry.mode}") else entry.mode),
                cell(word(t, "action", entry.action), "bold" if entry.action == "break-glass" else ""),
                cell(word(t, "outcome", entry.outcome), _ALARMING.get(entry.outcome, "")),
                cell(word(t, "id", entry.identifier_type)),
                cell(t("admin.yes") if entry.offline else t("admin.no")),
                cell(str(entry.unsigned), "yellow" if entry.unsigned else ""),
                cell(str(entry.invalid), "bold red" if entry.invalid else ""),
                key=str(position),
            )

    def _show_counts(self, counts: ActivityCounts) -> None:
        t = self.context.t
        self.counts = counts
        shape = "%d/%m/%Y %H:%M" if counts.by == "hour" else "%d/%m/%Y"
        period = t(
            "activity.period",
            since=counts.since.astimezone(self.zone).strftime("%d/%m/%Y %H:%M"),
            until=counts.until.astimezone(self.zone).strftime("%d/%m/%Y %H:%M"),
        )
        self.query_one("#counts-period", Words).update(period)
        for figure in CHARTS:
            values = series(counts, figure)
            line = t(
                f"activity.chart.line-{counts.by}",
                label=t(figure_key(figure)),
                total=getattr(counts.totals, figure),
                peak=max(values, default=0),
            )
            self.query_one(f"#line-{figure}", Words).update(line)
            self.query_one(f"#chart-{figure}", Sparkline).data = [float(v) for v in values]
        glass = [
            t("activity.glass-line", staff=s.staff or t("activity.nobody"), n=s.break_glass)
            for s in counts.break_glass_by_staff
        ]
        self.query_one("#glass-by-staff", Words).update(
            t("activity.glass-by-staff") + ": " + ("; ".join(glass) if glass else "0")
        )
        numbers = self.query_one("#counts", DataTable)
        numbers.clear()
        for bucket in reversed(counts.buckets):
            start = bucket.start.astimezone(self.zone).strftime(shape)
            numbers.add_row(cell(start), *(cell(str(getattr(bucket, f))) for f in CHARTS), key=start)

    def _refill_filters(self) -> None:
        for name, _ in _FILTERS:
            select: Select[str] = self.query_one(f"#filter-{name}", Select)
            options = self._options(name)
            chosen = getattr(self.filters, name)
            with select.prevent(Select.Changed):
                select.set_options(options)
                if chosen in {v for _, v in options}:
                    select.value = chosen

    # -- the filters -----------------------------------------------------------------------------------------------

    def _filter(self, **change: object) -> None:
        """Search with `change` made to the filters (values the screen itself offers or read)."""
        chosen = self.filters.model_copy(update=change)
        if chosen != self.filters:
            self.filters = chosen
            self.action_refresh()

    @on(Select.Changed, "#activity-filters Select")
    def _filter_chosen(self, event: Select.Changed) -> None:
        name = (event.select.id or "").removeprefix("filter-")
        self._filter(**{name: event.value if isinstance(event.value, str) else None})

    @on(Select.Changed, "#by")
    def _period_chosen(self, event: Select.Changed) -> None:
        by: Period = "day" if event.value == "day" else "hour"
        if by != self.by:
            self.by = by
            self.action_refresh()

    @on(Input.Changed, "#activity-period Input")
    def _time_typed(self, event: Input.Changed) -> None:
        t = self.context.t
        name = event.input.id or ""
        self._typed[name] = event.value
        try:
            since = read_time(self._typed["since"], self.zone)
            until = read_time(self._typed["until"], self.zone)
        except ValueError:
            self.query_one("#activity-note", Words).update(t("activity.bad-time"))
            return
        if since is not None and until is not None and since >= until:
            self.query_one("#activity-note", Words).update(t("activity.bad-period"))
            return
        self._filter(since=since, until=until)

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self) -> None:
        self.action_refresh()

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.go_back")
