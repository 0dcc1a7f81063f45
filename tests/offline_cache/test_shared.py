"""The hospital-wide shared cache on a real PostgreSQL server: same protocols, same encryption, kiosks sharing
records, outbox claims that never hand one message to two kiosks, and no patient value in the server's files."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lookup.service.cache_protocol import Outbox, RecordCache
from offline_cache import CacheError, CacheKeyError, OutboxState, RetryPolicy
from offline_cache.db import table_statements
from offline_cache.schema import migrate, migration_ids
from offline_cache.shared import SharedCache
from tests.offline_cache.conftest import HOUR, Clock
from tests.offline_cache.postgres import running_postgres

HOSPITAL_KEY = bytes(range(32))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    folder.chmod(0o755)  # the server runs as its own user
    try:
        with running_postgres(folder / "pg") as dsn:
            yield dsn, folder / "pg" / "data"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


Connect = Callable[..., SharedCache]


@pytest.fixture
def connect(server: tuple[str, Path], clock: Clock) -> Iterator[Connect]:
    """Connects kiosks to one fresh schema of the shared server."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    migrate(server[0], schema)
    opened: list[SharedCache] = []

    def make(**kw: Any) -> SharedCache:
        kw.setdefault("master_key", HOSPITAL_KEY)
        kw.setdefault("ttl_seconds", 72 * HOUR)
        kw.setdefault("clock", clock)
        cache = SharedCache.connect(server[0], schema=schema, **kw)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


def test_kiosks_share_records_through_the_lookup_protocol(connect: Connect, clock: Clock) -> None:
    er, reception = connect(), connect(ttl_seconds=8 * HOUR)
    records: RecordCache = er.records
    records.put("patient/p1", b"summary", index_keys=["id:cccd|001190012345", "bk:nhung|1990"])
    found = reception.records.find("id:cccd|001190012345")
    assert [(r.key, r.payload) for r in found] == [("patient/p1", b"summary")]
    er.records.put("patient/p1", b"newer", index_keys=["bk:nhung|1990"])
    assert reception.records.find("id:cccd|001190012345") == []
    got = reception.records.get("patient/p1")
    assert got is not None and got.payload == b"newer"
    clock.advance(9 * HOUR)
    assert reception.records.get("patient/p1") is None  # past the reception's time-to-live
    assert er.records.get("patient/p1") is not None
    er.records.delete("patient/p1")
    assert er.records.get("patient/p1") is None
    assert er.stats().records == 0 and er.stats().file_bytes > 0


def test_a_lobby_kiosk_neither_reads_nor_writes_clinical_rows(connect: Connect) -> None:
    er, lobby = connect(), connect(clinical_allowed=False)
    er.records.put("patient/p1", b"clinical", index_keys=["id:1"])
    er.records.put("appointment/a1", b"slot", index_keys=["id:1"], clinical=False)
    assert [r.key for r in lobby.records.find("id:1")] == ["appointment/a1"]
    lobby.records.put("patient/p2", b"clinical")
    assert er.records.get("patient/p2") is None


def test_another_hospital_key_is_refused(connect: Connect) -> None:
    connect().records.put("patient/p1", b"kept")
    with pytest.raises(CacheKeyError, match="another hospital key"):
        connect(master_key=os.urandom(32))
    got = connect().records.get("patient/p1")
    assert got is not None and got.payload == b"kept"


def test_concurrent_claims_never_take_one_message_twice(connect: Connect, clock: Clock) -> None:
    kiosks = [connect(retry=RetryPolicy(lease_seconds=30)) for _ in range(4)]
    outbox: Outbox = kiosks[0].outbox
    for i in range(200):
        outbox.append("audit", f"event-{i}", f"{i}".encode())
        kiosks[1].outbox.append("audit", f"event-{i}", f"{i}".encode())  # the same message from another kiosk
    claimed: list[list[str]] = [[] for _ in kiosks]

    def drain(n: int) -> None:
        while batch := kiosks[n].outbox.claim(limit=7):
            for entry in batch:
                claimed[n].append(entry.idempotency_key)
                kiosks[n].outbox.acknowledge(entry.id)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(len(kiosks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [key for keys in claimed for key in keys]
    assert sorted(every) == sorted(f"event-{i}" for i in range(200))  # each once, none lost
    assert sum(1 for keys in claimed if keys) >= 2  # the kiosks really claimed side by side
    assert kiosks[2].outbox.states()[OutboxState.ACKNOWLEDGED] == 200


def test_a_dead_kiosks_messages_come_back_to_another(connect: Connect, clock: Clock) -> None:
    dead, alive = connect(retry=RetryPolicy(lease_seconds=60)), connect(retry=RetryPolicy(lease_seconds=60))
    dead.outbox.append("check-in", "check-in:a1", b"{}")
    assert len(dead.outbox.claim()) == 1
    dead.close()
    assert alive.outbox.claim() == []
    clock.advance(61)
    (entry,) = alive.outbox.claim()
    assert entry.idempotency_key == "check-in:a1" and entry.attempts == 2


def test_the_servers_files_hold_no_patient_value(connect: Connect, server: tuple[str, Path]) -> None:
    name, cccd, birth = "Nguyễn Thị Hồng Nhung", "001190012345", "1990-01-02"
    cache = connect()
    payload = f'{{"name": "{name}", "cccd": "{cccd}", "birthDate": "{birth}"}}'.encode()
    for i in range(20):
        cache.records.put(f"patient/{cccd}-{i}", payload, index_keys=[f"id:cccd|{cccd}", f"bk:{name}|1990"])
    cache.outbox.append("audit", f"audit:{cccd}", payload)
    with psycopg.connect(server[0], autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    raw = b"".join(p.read_bytes() for p in server[1].rglob("*") if p.is_file() and p.stat().st_size < 64 * 2**20)
    assert len(raw) > 1_000_000
    assert payload[:20] not in raw and b'"cccd"' not in raw  # the check would see clear text
    for value in (name, cccd, birth, "Nhung"):
        assert value.encode() not in raw


def test_kiosks_refuse_a_schema_that_was_never_migrated(server: tuple[str, Path]) -> None:
    with pytest.raises(CacheError, match=re.escape("lacks migration 0001.shared-cache: run `kiosk hospital migrate`")):
        SharedCache.connect(server[0], schema=f"t_{uuid.uuid4().hex[:12]}", master_key=HOSPITAL_KEY, ttl_seconds=HOUR)


def test_migrations_make_the_tables_a_kiosk_file_has(server: tuple[str, Path]) -> None:
    """The hospital's schema comes from the migration files, a kiosk's file from `offline_cache.db`: the same tables
    and columns, or the stores' SQL would fail on one of them."""
    migrated, reference = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    assert migrate(server[0], migrated) == migration_ids()
    assert migrate(server[0], migrated) == [], "a second run applies nothing"
    statements = table_statements(
        row_id="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        row_ref="bigint",
        real="double precision",
        blob="bytea",
    )
    with psycopg.connect(server[0], autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {reference}")
        conn.execute(f"SET search_path TO {reference}")
        for statement in statements:
            conn.execute(statement.encode())

        def columns(schema: str) -> set[tuple[str, str, str, str]]:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name NOT LIKE %s",
                (schema, "%yoyo%"),
            ).fetchall()
            return {tuple(row) for row in rows}

        def indexes(schema: str) -> set[str]:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)).fetchall()
            return {row[0] for row in rows if "yoyo" not in row[0]}

        assert columns(migrated) == columns(reference) and columns(migrated)
        assert indexes(migrated) == indexes(reference)
