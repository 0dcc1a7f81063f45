"""The admin console's activity screen, driven by Textual's pilot in the real app on a real cache file: F9, then F4
lists the activity log newest first, each filter (staff member, outcome, kind of identifier, kiosk, a start time)
narrows the rows, the charts and their numbers show the counts per hour and per day, and every word is in the
reader's language (values as written, never as markup)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select, Sparkline

from kiosk.i18n import Lang
from kiosk.screens.activity import ActivityScreen
from kiosk.screens.admin import AdminScreen
from kiosk.settings import Mode, Settings
from kiosk.widgets.words import Words
from kiosk.wiring import build_app
from offline_cache import OfflineCache
from sandbox.server.runner import RunningSandbox
from testkit.kiosk import sandbox, settings_for, sign_in, wait_until
from tests.kiosk.test_words_on_screen import drawn, foreign_words

POPULATION = 30
SIZE = (170, 60)
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def _fill(settings: Settings) -> None:
    """Six audited actions in the kiosk's own log: five in the last day, one three days ago."""
    key_file = settings.cache_key_file
    assert key_file is not None
    rows: list[tuple[str, dt.timedelta, dict[str, Any]]] = [
        ("e1", dt.timedelta(hours=3), {"identifier_type": "cccd", "invalid": 1}),
        ("e2", dt.timedelta(hours=2), {"identifier_type": "cccd", "outcome": "not-found"}),
        ("e3", dt.timedelta(minutes=61), {"action": "break-glass", "staff": "doctor-minh",
                                          "identifier_type": "record"}),
        ("e4", dt.timedelta(minutes=60), {"kiosk": "cc-02", "mode": "reception", "staff": "clerk-hoa",
                                          "outcome": "identity-mismatch", "identifier_type": "bhyt"}),
        ("e5", dt.timedelta(minutes=10), {"action": "search", "outcome": "candidates", "offline": True,
                                          "identifier_type": "demographic", "unsigned": 2}),
        ("e6", dt.timedelta(days=3), {"staff": None, "identifier_type": "cccd"}),
    ]  # fmt: skip
    with OfflineCache.open(settings.cache_dir, key_file=key_file, ttl_seconds=3600) as cache:
        for event_id, ago, facts in rows:
            row: dict[str, Any] = {"kiosk": "cc-01", "staff": "nurse-lan", "mode": "er", "action": "lookup"}
            row |= {"outcome": "found"} | facts
            cache.activity.record(event_id, NOW - ago, **row)


def _cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(row)] for row in range(table.row_count)]


def _ids(screen: ActivityScreen) -> list[str]:
    return [entry.event_id for entry in screen.shown]


async def test_the_console_searches_and_counts_the_activity_log(server: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_for(server, Mode.ER, tmp_path / "cache", lang="en")
    _fill(settings)
    app = build_app(settings)
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and len(app.screen.shown) == 6)
        screen = app.screen
        assert isinstance(screen, ActivityScreen)
        assert _ids(screen) == ["e5", "e4", "e3", "e2", "e1", "e6"], "newest first"
        rows = _cells(screen.query_one("#activity", DataTable))
        assert rows[0][1:] == ["cc-01", "nurse-lan", "Emergency room", "search by name", "to choose from",
                               "name and birth date", "yes", "2", "0"]  # fmt: skip
        assert rows[1][4:7] == ["lookup", "card and record differ", "BHYT"]
        assert rows[5][2] == "—" and rows[4][9] == "1"

        # The counts of the last 24 hours, per hour: charts and numbers.
        counts = screen.counts
        assert counts is not None and counts.by == "hour" and len(counts.buckets) in (24, 25)
        totals = counts.totals
        assert (totals.events, totals.lookups, totals.not_found, totals.identity_mismatch) == (5, 5, 1, 1)
        assert (totals.break_glass, totals.offline, totals.unsigned, totals.invalid) == (1, 1, 2, 1)
        line = str(screen.query_one("#line-not_found", Words).content)
        assert line == "Not found: 1 in all, at most 1 in an hour"
        assert sum(screen.query_one("#chart-lookups", Sparkline).data or []) == 5
        assert str(screen.query_one("#glass-by-staff", Words).content) == "Break-glass by staff member: doctor-minh 1"
        numbers = _cells(screen.query_one("#counts", DataTable))
        assert len(numbers) == len(counts.buckets) and sum(int(row[1]) for row in numbers) == 5

        # Each filter narrows the rows, and the counts with them.
        screen.query_one("#filter-staff", Select).value = "nurse-lan"
        await wait_until(pilot, lambda: _ids(screen) == ["e5", "e2", "e1"])
        assert screen.counts is not None and screen.counts.totals.events == 3
        screen.query_one("#filter-outcome", Select).value = "not-found"
        await wait_until(pilot, lambda: _ids(screen) == ["e2"])
        screen.query_one("#filter-staff", Select).clear()
        screen.query_one("#filter-outcome", Select).clear()
        await wait_until(pilot, lambda: len(screen.shown) == 6)
        screen.query_one("#filter-identifier_type", Select).value = "bhyt"
        await wait_until(pilot, lambda: _ids(screen) == ["e4"])
        screen.query_one("#filter-identifier_type", Select).clear()
        screen.query_one("#filter-kiosk", Select).value = "cc-02"
        await wait_until(pilot, lambda: _ids(screen) == ["e4"])
        screen.query_one("#filter-kiosk", Select).clear()
        await wait_until(pilot, lambda: len(screen.shown) == 6)

        # Per day: the last two weeks, the action of three days ago counted too.
        screen.query_one("#by", Select).value = "day"
        await wait_until(pilot, lambda: screen.counts is not None and screen.counts.by == "day")
        assert screen.counts is not None and screen.counts.totals.events == 6 and len(screen.counts.buckets) == 15

        # A start time typed by hand; a time that is none is said, and changes nothing.
        await pilot.click("#since")
        await pilot.press(*"yesterday")
        await wait_until(pilot, lambda: "Write a date" in str(screen.query_one("#activity-note", Words).content))
        assert len(screen.shown) == 6
        since = (NOW - dt.timedelta(minutes=90)).astimezone(screen.zone).strftime("%Y-%m-%d %H:%M")
        screen.query_one("#since", Input).value = since
        await wait_until(pilot, lambda: _ids(screen) == ["e5", "e4", "e3"])


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_activity_screen_speaks_one_language(server: RunningSandbox, tmp_path: Path, lang: Lang) -> None:
    settings = settings_for(server, Mode.ER, tmp_path / "cache", lang=lang)
    _fill(settings)
    app = build_app(settings)
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.click("#activity")
        await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and len(app.screen.shown) == 6)
        await pilot.pause()
        text = drawn(app)
        assert not foreign_words(lang, text), f"{sorted(foreign_words(lang, text))}:\n{text}"
        assert ("Nhật ký hoạt động" if lang == "vi" else "Activity log") in text
        await pilot.press("f3")  # the other language, redrawn with the same rows
        await wait_until(pilot, lambda: len(app.screen.shown) == 6 if isinstance(app.screen, ActivityScreen) else False)
        await pilot.pause()
        other: Lang = "en" if lang == "vi" else "vi"
        assert not foreign_words(other, drawn(app))
