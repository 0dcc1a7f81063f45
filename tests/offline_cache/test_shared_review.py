"""The review queue of possible duplicates on the hospital's shared PostgreSQL cache: one queue for every kiosk,
decisions seen by all, nothing identifying in the server's files, and a kiosk on both (`HospitalReview`) keeping
the queue on its own file while the shared one is away, without offering again what it decided meanwhile."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lookup.service.cache_protocol import ReviewQueue, ScannableCache
from offline_cache import CacheError, OfflineCache
from offline_cache.hospital import HospitalCache, SharedLink
from offline_cache.review import DecisionDelivery, ReviewState
from offline_cache.shared import SharedCache
from tests.offline_cache import test_shared
from tests.offline_cache.conftest import Clock, Opener
from tests.offline_cache.test_shared import Connect

server = test_shared.server
connect = test_shared.connect
"""The shared cache tests' own server and schema per test."""

NAME, CCCD, STAFF = "Nguyễn Thị Hồng Nhung", "001190012345", "nurse-lan"


@dataclass(frozen=True)
class Found:
    """A pair as the finder offers it."""

    first: str
    second: str
    score: float
    details: bytes = b"{}"


def test_kiosks_share_one_queue_and_its_decisions(connect: Connect, clock: Clock) -> None:
    er, reception = connect(), connect()
    queue: ReviewQueue = er.review
    assert queue.offer([Found("p9", "p1", 0.97, b"pair one"), Found("p2", "p3", 0.6)]) == 2
    assert reception.review.offer([Found("p1", "p9", 0.98, b"again")]) == 0
    listed = reception.review.waiting()
    assert [(w.first, w.second, w.score, w.details) for w in listed] == [
        ("p1", "p9", 0.98, b"again"),
        ("p2", "p3", 0.6, b"{}"),
    ]
    er.review.decide("p1", "p9", ReviewState.SAME, STAFF, DecisionDelivery.PENDING)
    late = reception.review.decide("p9", "p1", ReviewState.DIFFERENT, "doctor-minh", DecisionDelivery.LOCAL)
    assert (late.state, late.staff_id) == (ReviewState.SAME, STAFF)  # decided at the first kiosk: that stands
    assert [w.first for w in reception.review.waiting()] == ["p2"]
    assert [d.first for d in reception.review.pending()] == ["p1"]
    reception.review.set_delivery("p1", "p9", DecisionDelivery.QUEUED)
    decided = er.review.decision("p9", "p1")
    assert decided is not None and decided.delivery is DecisionDelivery.QUEUED
    assert er.review.counts() == {ReviewState.WAITING: 1, ReviewState.SAME: 1, ReviewState.DIFFERENT: 0}


def test_the_shared_queue_holds_nothing_identifying_in_clear(connect: Connect, server: tuple[str, Path]) -> None:
    cache = connect()
    details = json.dumps({"first": {"name": NAME, "cccd": CCCD}}, ensure_ascii=False).encode()
    cache.review.offer([Found(f"cccd-{CCCD}", "p-nhung-1990", 0.99, details)])
    cache.review.offer([Found(f"cccd-{CCCD}-2", "p-nhung-1991", 0.99, details)])
    cache.review.decide(f"cccd-{CCCD}-2", "p-nhung-1991", "same", STAFF, "pending")
    with psycopg.connect(server[0], autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    raw = b"".join(p.read_bytes() for p in server[1].rglob("*") if p.is_file() and p.stat().st_size < 64 * 2**20)
    assert b"waiting" in raw and b"pending" in raw  # the check sees the table's clear columns
    for value in (NAME, CCCD, "Nhung", "p-nhung", STAFF):
        assert value.encode() not in raw, value


def test_a_kiosk_on_both_keeps_its_decisions_through_an_outage(
    connect: Connect, open_cache: Opener, clock: Clock
) -> None:
    reachable = True

    def join() -> SharedCache:
        if not reachable:
            raise CacheError("the shared cache is unreachable: OperationalError")
        return connect()

    hospital = HospitalCache(open_cache(), SharedLink(join, "test database", retry_seconds=0.0, clock=clock))
    shared = connect()
    local: OfflineCache = hospital.local
    queue: ReviewQueue = hospital.review
    assert queue.offer([Found("a", "b", 0.9), Found("c", "d", 0.8)]) == 2
    assert local.review.waiting() == [] and len(shared.review.waiting()) == 2

    reachable = False
    hospital.link.lost(CacheError("the shared cache is unreachable: OperationalError"))
    assert [w.first for w in queue.waiting()] == []  # this kiosk's own queue: the pairs are on the shared one
    queue.offer([Found("a", "b", 0.9)])
    made = queue.decide("b", "a", "different", STAFF, "local")
    assert made.state is ReviewState.DIFFERENT and local.review.decision("a", "b") is not None

    reachable = True
    assert hospital.link.wait_connected(10.0)
    assert [w.first for w in queue.waiting()] == ["c"]  # decided here meanwhile: not listed from the shared queue
    copied = shared.review.decision("a", "b")
    assert copied is not None and (copied.state, copied.staff_id) == (ReviewState.DIFFERENT, STAFF)
    assert queue.offer([Found("a", "b", 0.95)]) == 0
    online = queue.decide("c", "d", "same", "doctor-minh", "pending")
    assert shared.review.decision("c", "d") == online and local.review.decision("c", "d") is not None
    assert [(d.first, d.staff_id) for d in queue.pending()] == [("c", "doctor-minh")]  # on both, listed once
    queue.set_delivery("c", "d", "queued")
    assert queue.pending() == []
    hospital.close()


def test_a_kiosk_on_both_scans_every_record_once(connect: Connect, open_cache: Opener, clock: Clock) -> None:
    hospital = HospitalCache(open_cache(), SharedLink(connect, "test database", retry_seconds=0.0, clock=clock))
    records: ScannableCache = hospital.records
    records.put("patient/p1", b"both")
    hospital.local.records.put("patient/p2", b"mine only")
    connect().records.put("patient/p3", b"another kiosk's")
    assert sorted((r.key, r.payload) for r in records.scan()) == [
        ("patient/p1", b"both"),
        ("patient/p2", b"mine only"),
        ("patient/p3", b"another kiosk's"),
    ]
    hospital.link.lost(CacheError("the shared cache is unreachable: OperationalError"))
    assert sorted(r.key for r in records.scan()) == ["patient/p1", "patient/p2"]
    hospital.close()
