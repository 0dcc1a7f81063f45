"""Delivery receipts on the hospital's shared PostgreSQL cache, and `HospitalOutbox` handing each receipt to the
outbox its message came from and listing both outboxes, newest first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from psycopg import sql

from lookup.service.cache_protocol import Outbox
from lookup.service.receipts import Receipt
from offline_cache import CacheError, DeliveryState
from offline_cache.hospital import HospitalCache, SharedLink
from offline_cache.shared import SharedCache
from tests.offline_cache.conftest import Clock, Opener
from tests.offline_cache.test_shared import Connect, connect, server  # noqa: F401 (the shared server's fixtures)

TEMPORARY = "TMP123456782"
SERVER_TIME = dt.datetime(2026, 3, 1, 1, 30, 5, tzinfo=dt.UTC)


def test_the_shared_outbox_keeps_sealed_receipts_and_lists_by_kiosk(
    connect: Connect,  # noqa: F811
    server: tuple[str, Path],  # noqa: F811
    clock: Clock,
) -> None:
    er, reception = connect(), connect()
    outbox: Outbox = er.outbox
    outbox.append("registration", f"register:{TEMPORARY}", b'{"secret": 1}', kiosk="er-desk-1")
    clock.advance(10)
    reception.outbox.append("check-in", "check-in:a1", b"{}", kiosk="reception-2")
    registered, arrived = sorted(reception.outbox.claim(), key=lambda e: e.kind, reverse=True)
    reception.outbox.acknowledge(registered.id, Receipt(server_id=f"Patient/{TEMPORARY}", server_time=SERVER_TIME))
    reception.outbox.fail(arrived.id, "the server did not answer within 5 s")

    listed = er.outbox.entries()
    assert [(i.kiosk, i.kind, i.delivery) for i in listed] == [
        ("reception-2", "check-in", DeliveryState.RETRYING),
        ("er-desk-1", "registration", DeliveryState.DELIVERED),
    ]
    assert (listed[1].server_id, listed[1].server_time) == (f"Patient/{TEMPORARY}", SERVER_TIME)
    assert [i.kind for i in er.outbox.entries(kiosk="er-desk-1")] == ["registration"]
    assert [i.kind for i in er.outbox.entries(search="tmp123")] == ["registration"]
    assert [i.reason for i in er.outbox.entries(delivery="retrying")] == ["the server did not answer within 5 s"]
    with psycopg.connect(server[0], autocommit=True) as admin:
        schemas = admin.execute(
            "SELECT table_schema FROM information_schema.columns"
            " WHERE table_name = 'outbox' AND column_name = 'server_id'"
        ).fetchall()
        stored = [
            row
            for (schema,) in schemas
            for row in admin.execute(
                sql.SQL("SELECT kiosk, server_id, server_time FROM {}.outbox WHERE server_id IS NOT NULL").format(
                    sql.Identifier(schema)
                )
            ).fetchall()
        ]
    assert stored and all(kiosk == "er-desk-1" for kiosk, _, _ in stored)
    assert all(TEMPORARY.encode() not in bytes(sid) and b"2026" not in bytes(at) for _, sid, at in stored)


def test_the_hospital_outbox_settles_each_receipt_where_its_message_waits(
    connect: Connect,  # noqa: F811
    open_cache: Opener,
    clock: Clock,
) -> None:
    local = open_cache()

    def unreachable() -> SharedCache:
        raise CacheError("the shared cache (test) is unreachable: OperationalError")

    down = SharedLink(unreachable, "nowhere", retry_seconds=3600)
    offline = HospitalCache(local, down)
    offline.outbox.append("audit", "event-offline", b"{}", kiosk="er-1")
    down.close()
    clock.advance(60)
    shared = connect()
    hospital = HospitalCache(local, SharedLink(lambda: shared, "test"))
    outbox: Outbox = hospital.outbox
    outbox.append("audit", "event-online", b"{}", kiosk="er-1")
    clock.advance(60)
    shared.outbox.append("check-in", "check-in:a1", b"{}", kiosk="reception-2")  # another kiosk's message

    claimed = {entry.idempotency_key: entry for entry in outbox.claim()}
    assert set(claimed) == {"event-offline", "event-online", "check-in:a1"}
    for key, entry in claimed.items():
        outbox.acknowledge(entry.id, Receipt(server_id=f"AuditEvent/{key}", server_time=SERVER_TIME))

    assert [i.server_id for i in local.outbox.entries()] == ["AuditEvent/event-offline"]
    assert [i.server_id for i in shared.outbox.entries()] == ["AuditEvent/check-in:a1", "AuditEvent/event-online"]
    both = hospital.outbox.entries()
    assert [i.server_id for i in both] == [
        "AuditEvent/check-in:a1",
        "AuditEvent/event-online",
        "AuditEvent/event-offline",
    ], "newest first, this kiosk's own backlog beside the shared outbox"
    assert all(i.delivery is DeliveryState.DELIVERED and i.server_time == SERVER_TIME for i in both)
    assert [i.kiosk for i in hospital.outbox.entries(kiosk="reception-2")] == ["reception-2"]
    assert len(hospital.outbox.entries(limit=2)) == 2
    hospital.close()
