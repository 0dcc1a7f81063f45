"""The review queue of possible duplicates in a kiosk's own SQLite file: pairs kept under one blind key whichever
way round they are found, listed likeliest first, decisions remembered (by whom, when, where they went) and never
offered again, waiting pairs gone with the records' time-to-live, and an older file upgraded in place."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from lookup.service.cache_protocol import ReviewQueue
from offline_cache import DB_NAME
from offline_cache.db import SCHEMA_STEPS, SCHEMA_VERSION
from offline_cache.review import DecisionDelivery, ReviewState
from tests.offline_cache.conftest import HOUR, Clock, Opener


@dataclass(frozen=True)
class Found:
    """A pair as the finder offers it."""

    first: str
    second: str
    score: float
    details: bytes = b"{}"


def test_a_pair_is_one_row_whichever_way_round_it_is_found(open_cache: Opener, clock: Clock) -> None:
    review: ReviewQueue = open_cache().review  # the lookup's protocol, checked by mypy
    assert review.offer([Found("p2", "p1", 0.7, b"first sight"), Found("p3", "p4", 0.9)]) == 2
    clock.advance(60)
    assert review.offer([Found("p1", "p2", 0.8, b"seen again"), Found("p5", "p6", 0.6)]) == 1
    waiting = review.waiting()
    assert [(w.first, w.second, w.score) for w in waiting] == [("p3", "p4", 0.9), ("p1", "p2", 0.8), ("p5", "p6", 0.6)]
    assert waiting[1].details == b"seen again"
    assert waiting[1].found_at.timestamp() == clock.now - 60  # first found then, refreshed since
    assert [w.first for w in review.waiting(limit=1)] == ["p3"]
    with pytest.raises(ValueError, match="two different records"):
        review.offer([Found("p1", "p1", 1.0)])


def test_a_decision_is_remembered_and_the_pair_never_offered_again(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache()
    cache.review.offer([Found("a", "b", 0.95, b"names"), Found("c", "d", 0.9)])
    made = cache.review.decide("b", "a", ReviewState.SAME, "nurse-lan", DecisionDelivery.PENDING)
    assert (made.first, made.second, made.state, made.staff_id) == ("a", "b", ReviewState.SAME, "nurse-lan")
    assert made.delivery is DecisionDelivery.PENDING and made.decided_at.timestamp() == clock.now
    cache.review.decide("c", "d", "different", "doctor-minh", "queued")
    clock.advance(3600)
    assert cache.review.offer([Found("a", "b", 0.99), Found("d", "c", 0.99)]) == 0
    assert cache.review.waiting() == []
    again = cache.review.decide("a", "b", ReviewState.DIFFERENT, "clerk-hoa", DecisionDelivery.LOCAL)
    assert (again.state, again.staff_id) == (ReviewState.SAME, "nurse-lan")  # the first decision stands
    different = cache.review.decision("d", "c")
    assert different is not None and different.delivery is DecisionDelivery.LOCAL  # never sent, whatever was asked
    assert [(d.first, d.second) for d in cache.review.pending()] == [("a", "b")]
    cache.review.set_delivery("a", "b", DecisionDelivery.QUEUED)
    assert cache.review.pending() == []
    counts = cache.review.counts()
    assert counts == {ReviewState.WAITING: 0, ReviewState.SAME: 1, ReviewState.DIFFERENT: 1}
    cache.close()

    reopened = open_cache()
    kept = reopened.review.decision("a", "b")
    assert kept is not None and (kept.staff_id, kept.delivery) == ("nurse-lan", DecisionDelivery.QUEUED)
    assert reopened.review.offer([Found("b", "a", 1.0)]) == 0 and reopened.review.waiting() == []


def test_a_pair_decided_from_another_queue_is_recorded_here_too(open_cache: Opener) -> None:
    review = open_cache().review
    assert review.decision("x", "y") is None
    made = review.decide("y", "x", "same", "nurse-lan", "queued")
    assert (made.first, made.second, made.delivery) == ("x", "y", DecisionDelivery.QUEUED)
    assert review.offer([Found("x", "y", 0.9)]) == 0


def test_waiting_pairs_go_with_the_time_to_live_and_decisions_stay(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache(ttl_seconds=8 * HOUR)
    cache.review.offer([Found("a", "b", 0.9), Found("c", "d", 0.8)])
    cache.review.decide("c", "d", "different", "nurse-lan", "local")
    clock.advance(7 * HOUR)
    cache.review.offer([Found("e", "f", 0.7)])
    clock.advance(2 * HOUR)
    assert [w.first for w in cache.review.waiting()] == ["e"]  # a, b not seen again within 8 hours: not listed
    assert cache.purge() >= 1
    assert cache.review.counts() == {ReviewState.WAITING: 1, ReviewState.SAME: 0, ReviewState.DIFFERENT: 1}
    assert cache.review.offer([Found("a", "b", 0.9)]) == 1  # found again after it went: a new pair
    cache.purge(all=True)
    assert sum(cache.review.counts().values()) == 0 and cache.review.decision("c", "d") is None


def test_a_file_of_the_previous_schema_is_upgraded_in_place(open_cache: Opener, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    conn = sqlite3.connect(folder / DB_NAME)
    words = {"row_id": "INTEGER PRIMARY KEY", "row_ref": "INTEGER", "real": "REAL", "blob": "BLOB"}
    for version in range(1, SCHEMA_VERSION):
        conn.executescript(SCHEMA_STEPS[version].format(**words, without_rowid=" WITHOUT ROWID"))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    conn.commit()
    conn.close()
    cache = open_cache()
    cache.records.put("patient/p1", b"kept")
    cache.review.offer([Found("p1", "p2", 0.9)])
    assert [w.first for w in cache.review.waiting()] == ["p1"]
    cache.close()
    with sqlite3.connect(folder / DB_NAME) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
