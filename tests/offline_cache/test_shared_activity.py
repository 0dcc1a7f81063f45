"""The activity log on the hospital's shared PostgreSQL cache: every kiosk's rows in one log, the same search and
counts as a kiosk's own file, and a kiosk on both (`HospitalActivity`) writing to the shared log while it answers,
to its own while it does not, and reading both as one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg

from lookup.service.cache_protocol import ActivityLog
from offline_cache import CacheError, OfflineCache
from offline_cache.activity import ActivityQuery
from offline_cache.hospital import HospitalCache, SharedLink
from offline_cache.shared import SharedCache
from tests.offline_cache import test_shared
from tests.offline_cache.conftest import Clock, Opener
from tests.offline_cache.test_shared import Connect

server = test_shared.server
connect = test_shared.connect
"""The shared cache tests' own server and schema per test."""

START = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.UTC)


def _record(log: ActivityLog, event_id: str, minutes: float, **facts: Any) -> None:
    row: dict[str, Any] = {"kiosk": "er-1", "staff": "nurse-lan", "mode": "er", "action": "lookup", "outcome": "found"}
    log.record(event_id, START + dt.timedelta(minutes=minutes), **(row | facts))


def test_kiosks_share_one_log_searched_and_counted_as_a_file_is(connect: Connect) -> None:
    er, reception = connect(), connect()
    log: ActivityLog = er.activity  # the lookup's protocol, checked by mypy
    _record(log, "e1", 10, identifier_type="cccd")
    _record(log, "e2", 70, action="break-glass", staff="doctor-minh", invalid=1)
    _record(reception.activity, "e3", 80, kiosk="reception-2", mode="reception", outcome="not-found")
    _record(reception.activity, "e3", 80, kiosk="reception-2", mode="reception", outcome="not-found")
    _record(reception.activity, "e4", 130, kiosk="reception-2", mode="reception", offline=True, unsigned=3)
    found = er.activity.search(ActivityQuery(kiosk="reception-2"))
    assert [(e.event_id, e.outcome, e.offline, e.unsigned) for e in found] == [
        ("e4", "found", True, 3),
        ("e3", "not-found", False, 0),
    ]
    assert [e.event_id for e in reception.activity.search(ActivityQuery(staff="doctor-minh"))] == ["e2"]
    counts = reception.activity.counts(ActivityQuery(since=START, until=START + dt.timedelta(hours=2)))
    assert [(b.start, b.events, b.not_found, b.break_glass) for b in counts.buckets] == [
        (START, 1, 0, 0),
        (START + dt.timedelta(hours=1), 2, 1, 1),
    ]
    assert (counts.totals.events, counts.totals.invalid, counts.totals.offline) == (3, 1, 0)
    assert [(s.staff, s.break_glass) for s in counts.break_glass_by_staff] == [("doctor-minh", 1)]
    assert er.activity.choices().kiosks == ["er-1", "reception-2"]


def test_the_shared_log_holds_no_event_id_in_clear(connect: Connect, server: tuple[str, Path]) -> None:
    event_id = "0b8f6d2c-5a41-4c3e-8d7f-91e2a6b4c3d5"
    _record(connect().activity, event_id, 0)
    with psycopg.connect(server[0], autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    raw = b"".join(p.read_bytes() for p in server[1].rglob("*") if p.is_file() and p.stat().st_size < 64 * 2**20)
    assert b"nurse-lan" in raw  # the check sees the table's clear columns
    assert event_id.encode() not in raw


def test_a_kiosk_on_both_writes_where_it_can_and_reads_both(connect: Connect, open_cache: Opener, clock: Clock) -> None:
    reachable = True

    def join() -> SharedCache:
        if not reachable:
            raise CacheError("the shared cache is unreachable: OperationalError")
        return connect()

    hospital = HospitalCache(open_cache(), SharedLink(join, "test database", retry_seconds=0.0, clock=clock))
    shared = connect()
    local: OfflineCache = hospital.local
    log: ActivityLog = hospital.activity
    _record(log, "online", 5)
    assert [e.event_id for e in shared.activity.search(ActivityQuery())] == ["online"]
    assert local.activity.search(ActivityQuery()) == []
    reachable = False
    assert hospital.link.get() is not None
    hospital.link.lost(CacheError("the shared cache is unreachable: OperationalError"))
    _record(log, "offline", 65, outcome="not-found")
    assert [e.event_id for e in local.activity.search(ActivityQuery())] == ["offline"]
    assert [e.event_id for e in hospital.activity.search(ActivityQuery())] == ["offline"]  # the shared log is away
    reachable = True
    assert hospital.link.wait_connected(10.0)
    _record(shared.activity, "other-kiosk", 30, kiosk="er-2")
    assert [e.event_id for e in hospital.activity.search(ActivityQuery())] == ["offline", "other-kiosk", "online"]
    assert [e.event_id for e in hospital.activity.search(ActivityQuery(limit=1))] == ["offline"]
    counts = hospital.activity.counts(ActivityQuery(since=START, until=START + dt.timedelta(hours=2)))
    assert [(b.events, b.not_found) for b in counts.buckets] == [(2, 0), (1, 1)]
    assert hospital.activity.choices().kiosks == ["er-1", "er-2"]
    hospital.close()
