"""Records: stored, found by key and index key, replaced, deleted, expired, kept out in lobby mode, evicted."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from lookup.service.cache_protocol import CachedRecord, RecordCache
from offline_cache import CacheCorruptError, NewRecord, OfflineCache
from tests.offline_cache.conftest import HOUR, Clock, Opener


def test_the_store_is_the_lookup_cache_protocol(open_cache: Opener) -> None:
    cache: OfflineCache = open_cache()
    records: RecordCache = cache.records  # checked by mypy: the store has the protocol's shape
    records.put("patient/p1", b"payload", index_keys=["id:cccd|001190012345"])
    got: CachedRecord | None = records.get("patient/p1")
    assert got is not None and got.payload == b"payload" and got.key == "patient/p1"
    assert got.stored_at.tzinfo is not None
    found: Sequence[CachedRecord] = records.find("id:cccd|001190012345")
    assert [r.key for r in found] == ["patient/p1"]


def test_put_replaces_the_record_and_its_index_keys(open_cache: Opener) -> None:
    records = open_cache().records
    records.put("patient/p1", b"old", index_keys=["a", "b"])
    records.put("patient/p1", b"new", index_keys=["b", "c"])
    assert records.find("a") == []
    assert [r.payload for r in records.find("b")] == [b"new"]
    assert [r.payload for r in records.find("c")] == [b"new"]
    got = records.get("patient/p1")
    assert got is not None and got.payload == b"new"


def test_find_returns_every_record_sharing_an_index_key(open_cache: Opener) -> None:
    records = open_cache().records
    stored = records.put_many(NewRecord(f"patient/p{i}", f"{i}".encode(), ["bk:nguyen|1990"]) for i in range(5))
    assert stored == 5
    assert sorted(r.key for r in records.find("bk:nguyen|1990")) == [f"patient/p{i}" for i in range(5)]
    assert records.find("bk:nguyen|1991") == []


def test_delete_removes_the_record_and_its_index_entries(open_cache: Opener) -> None:
    records = open_cache().records
    records.put("patient/p1", b"x", index_keys=["a"])
    records.delete("patient/p1")
    records.delete("patient/never-stored")
    assert records.get("patient/p1") is None
    assert records.find("a") == []


def test_expired_records_are_never_returned_even_before_the_purge(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache(ttl_seconds=72 * HOUR)
    cache.records.put("patient/old", b"old", index_keys=["k"])
    clock.advance(71 * HOUR)
    cache.records.put("patient/new", b"new", index_keys=["k"])
    assert cache.records.get("patient/old") is not None
    clock.advance(1 * HOUR + 1)
    assert cache.records.get("patient/old") is None
    assert [r.key for r in cache.records.find("k")] == ["patient/new"]
    stats = cache.stats()
    assert (stats.records, stats.expired_records) == (1, 1)
    assert cache.purge() == 1
    assert cache.stats().expired_records == 0
    clock.advance(72 * HOUR)
    assert cache.records.get("patient/new") is None and cache.records.find("k") == []


def test_a_shorter_time_to_live_applies_to_records_already_stored(open_cache: Opener, clock: Clock) -> None:
    er = open_cache(ttl_seconds=72 * HOUR)
    er.records.put("patient/p1", b"x")
    er.close()
    clock.advance(9 * HOUR)
    reception = open_cache(ttl_seconds=8 * HOUR)
    assert reception.records.get("patient/p1") is None


def test_lobby_never_stores_or_returns_clinical_records(open_cache: Opener) -> None:
    er = open_cache()
    er.records.put("patient/p1", b"clinical", index_keys=["id:1"])
    er.records.put("appointment/a1", b"slot", index_keys=["id:1"], clinical=False)
    er.close()
    lobby = open_cache(clinical_allowed=False)
    assert lobby.records.get("patient/p1") is None
    assert [r.key for r in lobby.records.find("id:1")] == ["appointment/a1"]
    lobby.records.put("patient/p2", b"clinical")
    assert lobby.records.get("patient/p2") is None
    lobby.outbox.append("check-in", "check-in:a1", b"{}")
    assert len(lobby.outbox.claim()) == 1
    stats = lobby.stats()
    assert stats.records == 1 and stats.clinical_records == 0 and stats.expired_records == 0
    lobby.close()
    # The clinical record left by the ER mode was deleted when the lobby opened the file, not merely hidden.
    assert open_cache().records.get("patient/p1") is None


def test_the_size_cap_evicts_the_least_recently_used(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache(max_bytes=60_000)
    payload = bytes(1000)
    for i in range(40):
        cache.records.put(f"r{i}", payload)
        clock.advance(1)
    assert cache.records.get("r0") is not None  # used now: the most recent
    for i in range(40, 80):
        cache.records.put(f"r{i}", payload)
        clock.advance(1)
    assert cache.records.stored_bytes <= 60_000
    assert cache.records.get("r0") is not None
    assert cache.records.get("r1") is None
    assert cache.records.get("r79") is not None
    assert cache.stats().stored_bytes == cache.records.stored_bytes


def test_purge_all_empties_the_store_but_keeps_undelivered_messages(open_cache: Opener) -> None:
    cache = open_cache()
    cache.records.put_many(NewRecord(f"r{i}", b"x", [f"k{i}"]) for i in range(10))
    cache.outbox.append("audit", "a1", b"{}")
    cache.outbox.append("audit", "a2", b"{}")
    first = cache.outbox.claim(limit=1)[0]
    cache.outbox.acknowledge(first.id)
    assert cache.purge(all=True) == 11
    stats = cache.stats()
    assert stats.records == 0 and stats.stored_bytes == 0
    assert stats.outbox["queued"] == 1 and stats.outbox["acknowledged"] == 0
    assert cache.purge(all=True, outbox=True) == 1
    assert sum(cache.stats().outbox.values()) == 0


def test_a_ciphertext_moved_to_another_row_fails_authentication(open_cache: Opener, tmp_path: object) -> None:
    cache = open_cache()
    cache.records.put("patient/p1", b"one")
    cache.records.put("patient/p2", b"two")
    path = cache.path
    cache.close()
    with sqlite3.connect(path) as conn:
        sealed = conn.execute("SELECT sealed FROM records ORDER BY id").fetchall()
        conn.execute("UPDATE records SET sealed = ? WHERE id = (SELECT min(id) FROM records)", sealed[1])
    conn.close()
    cache = open_cache()
    with pytest.raises(CacheCorruptError) as info:
        cache.records.get("patient/p1")
    assert str(path) in str(info.value)
    got = cache.records.get("patient/p2")
    assert got is not None and got.payload == b"two"


def test_writes_purge_expired_records_on_their_own(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache(ttl_seconds=2 * HOUR)
    cache.records.put("patient/old", b"old", index_keys=["k"])
    clock.advance(3 * HOUR)
    assert cache.stats().expired_records == 1
    cache.records.put("patient/new", b"new", index_keys=["k"])
    stats = cache.stats()
    assert (stats.records, stats.expired_records) == (1, 0)


def test_threads_may_share_one_cache(open_cache: Opener) -> None:
    cache = open_cache()

    def work(n: int) -> int:
        for i in range(100):
            cache.records.put(f"t{n}-{i}", f"{n}-{i}".encode(), index_keys=[f"thread:{n}"])
            got = cache.records.get(f"t{n}-{i // 2}")
            assert got is not None and got.payload == f"{n}-{i // 2}".encode()
            cache.outbox.append("audit", f"t{n}-{i}", b"x")
        return len(cache.records.find(f"thread:{n}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(work, range(4))) == [100] * 4
    assert cache.stats().records == 400 and cache.stats().outbox["queued"] == 400
