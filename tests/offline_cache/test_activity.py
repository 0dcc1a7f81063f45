"""The activity log in a kiosk's own cache file: one row per audited action, searched by period, kiosk, staff
member, outcome and kind of identifier, counted per hour and per day, kept 90 days, and added to an older file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lookup.service.cache_protocol import ActivityLog
from offline_cache import DB_NAME
from offline_cache.activity import ActivityQuery, ActivityStore
from offline_cache.db import SCHEMA_STEPS, SCHEMA_VERSION
from tests.offline_cache.conftest import HOUR, Clock, Opener

VIETNAM = dt.timezone(dt.timedelta(hours=7))
ACTIVITY_STEP = 3


def _at(clock: Clock, hours: float = 0.0) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.now + hours * HOUR, tz=dt.UTC)


def _record(log: ActivityLog, event_id: str, when: dt.datetime, **facts: Any) -> None:
    row: dict[str, Any] = {"kiosk": "er-1", "staff": "nurse-lan", "mode": "er", "action": "lookup", "outcome": "found"}
    log.record(event_id, when, **(row | facts))


def test_rows_are_searched_by_each_filter_newest_first(open_cache: Opener, clock: Clock) -> None:
    log: ActivityLog = open_cache().activity  # the lookup's protocol, checked by mypy
    _record(log, "e1", _at(clock, -3), identifier_type="cccd")
    _record(log, "e2", _at(clock, -2), outcome="not-found", identifier_type="bhyt", kiosk="reception-2")
    _record(log, "e3", _at(clock, -1), action="break-glass", staff="doctor-minh", unsigned=2, invalid=1)
    _record(log, "e4", _at(clock, -0.5), outcome="found", offline=True, identifier_type="demographic", staff=None)
    _record(log, "e1", _at(clock, -3), identifier_type="cccd")  # the same event again keeps one row
    store = open_cache().activity

    def ids(**query: Any) -> list[str]:
        return [entry.event_id for entry in store.search(ActivityQuery(**query))]

    assert ids() == ["e4", "e3", "e2", "e1"]
    assert ids(kiosk="reception-2") == ["e2"]
    assert ids(staff="nurse-lan") == ["e2", "e1"]
    assert ids(outcome="not-found") == ["e2"]
    assert ids(identifier_type="demographic") == ["e4"]
    assert ids(action="break-glass") == ["e3"]
    assert ids(since=_at(clock, -2), until=_at(clock, -0.5)) == ["e3", "e2"]  # since included, until not
    assert ids(limit=2) == ["e4", "e3"]
    glass = store.search(ActivityQuery(action="break-glass"))[0]
    assert (glass.staff, glass.unsigned, glass.invalid, glass.offline) == ("doctor-minh", 2, 1, False)
    offline = store.search(ActivityQuery(identifier_type="demographic"))[0]
    assert offline.offline and offline.staff is None and offline.recorded_at == _at(clock, -0.5)
    choices = store.choices()
    assert choices.kiosks == ["er-1", "reception-2"] and choices.staff == ["doctor-minh", "nurse-lan"]
    assert choices.outcomes == ["found", "not-found"] and choices.identifier_types == ["bhyt", "cccd", "demographic"]


def test_free_text_never_enters_the_log(open_cache: Opener, clock: Clock) -> None:
    log = open_cache().activity
    for bad in (
        {"outcome": "Nguyễn Văn An"},
        {"identifier_type": "001190012345 "},
        {"kiosk": "er 1"},
        {"staff": "nurse\nlan"},
        {"unsigned": -1},
    ):
        with pytest.raises(ValidationError):
            _record(log, "e1", _at(clock), **bad)
    with pytest.raises(ValidationError):
        log.record("e1", dt.datetime(2026, 1, 1), kiosk="er-1", staff=None, mode="er", action="lookup", outcome="x")
    assert log.search(ActivityQuery()) == []


def test_counts_per_hour_cover_exactly_the_period_with_empty_hours(open_cache: Opener, clock: Clock) -> None:
    log = open_cache().activity
    start = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.UTC)
    rows: list[tuple[dt.datetime, dict[str, Any]]] = [
        (start, {"outcome": "found", "unsigned": 1}),
        (start + dt.timedelta(minutes=59, seconds=59.9), {"outcome": "not-found"}),
        (start + dt.timedelta(hours=1), {"outcome": "identity-mismatch"}),
        (start + dt.timedelta(hours=2, minutes=30), {"action": "break-glass", "invalid": 2}),
        (start + dt.timedelta(hours=2, minutes=40), {"action": "break-glass", "staff": "doctor-minh"}),
        (start + dt.timedelta(hours=2, minutes=50), {"action": "break-glass", "staff": "doctor-minh"}),
        (start + dt.timedelta(hours=2, minutes=55), {"action": "check-in", "outcome": "checked-in"}),
        (start + dt.timedelta(hours=3), {"outcome": "found", "offline": True}),  # at `until`: not counted
        (start - dt.timedelta(seconds=1), {"outcome": "found"}),  # before `since`: not counted
    ]
    for number, (when, facts) in enumerate(rows):
        _record(log, f"e{number}", when, **facts)
    counts = log.counts(ActivityQuery(since=start, until=start + dt.timedelta(hours=3)), by="hour")
    assert [b.start for b in counts.buckets] == [start + dt.timedelta(hours=h) for h in range(3)]
    assert [b.events for b in counts.buckets] == [2, 1, 4]
    assert [b.lookups for b in counts.buckets] == [2, 1, 3]
    assert [(b.not_found, b.identity_mismatch, b.break_glass) for b in counts.buckets] == [
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 3),
    ]
    totals = counts.totals
    assert (totals.events, totals.unsigned, totals.invalid, totals.offline) == (7, 1, 2, 0)
    assert [(s.staff, s.break_glass) for s in counts.break_glass_by_staff] == [("doctor-minh", 2), ("nurse-lan", 1)]
    narrowed = log.counts(ActivityQuery(since=start, until=start + dt.timedelta(hours=4), staff="doctor-minh"))
    assert narrowed.totals.events == 2 and len(narrowed.buckets) == 4


def test_counts_per_day_are_the_hospitals_days(open_cache: Opener, clock: Clock) -> None:
    log = open_cache().activity
    # 23:30 and 00:30 in Vietnam are two days there, one day in UTC.
    late = dt.datetime(2026, 3, 14, 23, 30, tzinfo=VIETNAM)
    _record(log, "late", late)
    _record(log, "early", late + dt.timedelta(hours=1))
    since = dt.datetime(2026, 3, 13, tzinfo=VIETNAM)
    counts = log.counts(ActivityQuery(since=since, until=since + dt.timedelta(days=3)), by="day", zone=VIETNAM)
    assert [(b.start.date().isoformat(), b.events) for b in counts.buckets] == [
        ("2026-03-13", 0),
        ("2026-03-14", 1),
        ("2026-03-15", 1),
    ]
    assert all(b.start.utcoffset() == dt.timedelta(hours=7) and b.start.hour == 0 for b in counts.buckets)
    by_hour = log.counts(ActivityQuery(), by="hour")  # the default period: the last 24 hours to the clock
    assert len(by_hour.buckets) == 24 and by_hour.until == _at(clock)


def test_rows_are_kept_ninety_days(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache()
    _record(cache.activity, "old", _at(clock, -90 * 24 - 1))
    _record(cache.activity, "recent", _at(clock, -89 * 24))
    assert cache.purge() == 1
    assert [e.event_id for e in cache.activity.search(ActivityQuery())] == ["recent"]
    assert cache.purge(all=True) == 0 and len(cache.activity.search(ActivityQuery())) == 1


def test_an_older_cache_file_gains_the_log_in_place(open_cache: Opener, tmp_path: Path, clock: Clock) -> None:
    cache = open_cache()
    cache.records.put("patient/p1", b"kept")
    cache.close()
    before = max(step for step in SCHEMA_STEPS if step < ACTIVITY_STEP)
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as conn:
        conn.execute("DROP TABLE activity")
        conn.execute(f"PRAGMA user_version={before}")
    reopened = open_cache()
    got = reopened.records.get("patient/p1")
    assert got is not None and got.payload == b"kept"
    _record(reopened.activity, "e1", _at(clock))
    assert len(reopened.activity.search(ActivityQuery())) == 1
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_the_event_id_is_kept_only_blinded_and_sealed(open_cache: Opener, tmp_path: Path, clock: Clock) -> None:
    store: ActivityStore = open_cache().activity
    event_id = "6f1c1d1e-2b8a-4f7e-9a51-0d3c5e7b9a21"
    _record(store, event_id, _at(clock))
    assert store.search(ActivityQuery())[0].event_id == event_id
    raw = b"".join(p.read_bytes() for p in (tmp_path / "cache").iterdir() if p.is_file())
    assert event_id.encode() not in raw and b"nurse-lan" in raw  # the check would see a value in clear
