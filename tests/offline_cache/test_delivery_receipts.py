"""Delivery receipts in a kiosk's own SQLite file: what the server made of a message kept sealed beside it, the kiosk
that queued it, the delivery states the console lists, its filters and search, and an older file upgraded in place."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from lookup.service.cache_protocol import Outbox
from lookup.service.receipts import Receipt
from offline_cache import DB_NAME, CacheCorruptError, DeliveryState, OutboxState, RetryPolicy
from offline_cache.db import SCHEMA_STEPS, SCHEMA_VERSION
from tests.offline_cache.conftest import Clock, Opener

TEMPORARY = "TMP123456782"
SERVER_TIME = dt.datetime(2026, 3, 1, 1, 30, 5, tzinfo=dt.UTC)


def test_a_delivered_message_keeps_its_sealed_receipt_and_the_kiosk_that_queued_it(
    open_cache: Opener, tmp_path: Path
) -> None:
    cache = open_cache()
    outbox: Outbox = cache.outbox  # checked by mypy: the lookup protocol, receipts included
    outbox.append("registration", f"register:{TEMPORARY}", b'{"secret": "payload"}', kiosk="er-desk-1")
    (entry,) = outbox.claim()
    outbox.acknowledge(entry.id, Receipt(server_id=f"Patient/{TEMPORARY}", server_time=SERVER_TIME))

    (item,) = cache.outbox.entries()
    assert (item.state, item.delivery, item.kiosk) == (OutboxState.ACKNOWLEDGED, DeliveryState.DELIVERED, "er-desk-1")
    assert (item.server_id, item.server_time, item.reason) == (f"Patient/{TEMPORARY}", SERVER_TIME, None)
    cache.close()
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as raw:
        sealed, kiosk, server_id, server_time = raw.execute(
            "SELECT sealed, kiosk, server_id, server_time FROM outbox"
        ).fetchone()
    assert sealed is None, "the payload is erased once delivered"
    assert kiosk == "er-desk-1"
    assert TEMPORARY.encode() not in server_id and b"2026" not in server_time, "the receipt is sealed"
    assert len(server_id) > len(f"Patient/{TEMPORARY}"), "nonce and tag around the ciphertext"


def test_a_receipt_moved_to_another_message_does_not_open(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache()
    for key in ("event-1", "event-2"):
        cache.outbox.append("audit", key, b"{}", kiosk="er-desk-1")
    first, second = cache.outbox.claim()
    cache.outbox.acknowledge(first.id, Receipt(server_id="AuditEvent/event-1", server_time=SERVER_TIME))
    cache.outbox.acknowledge(second.id, Receipt(server_id="AuditEvent/event-2", server_time=SERVER_TIME))
    cache.close()
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as raw:
        moved = raw.execute("SELECT server_id FROM outbox WHERE id = ?", (first.id,)).fetchone()[0]
        raw.execute("UPDATE outbox SET server_id = ? WHERE id = ?", (moved, second.id))
    with pytest.raises(CacheCorruptError, match="fails authentication"):
        open_cache().outbox.entries()


def test_the_console_lists_each_delivery_state_with_what_it_needs(open_cache: Opener, clock: Clock) -> None:
    outbox = open_cache(retry=RetryPolicy(max_attempts=3, base_delay=10)).outbox
    began = clock()
    for key, kind, kiosk in (("a", "check-in", "er-1"), ("b", "check-in", "er-1"), ("c", "audit", "reception-2")):
        outbox.append(kind, key, b"{}", kiosk=kiosk)
        clock.advance(60)
    outbox.append("audit", "d", b"{}", kiosk="reception-2")
    clock.advance(60)
    on_its_way, retrying, delivered, refused = sorted(outbox.claim(limit=4), key=lambda e: e.idempotency_key)
    outbox.fail(retrying.id, "the server did not answer within 5 s")
    outbox.acknowledge(delivered.id, Receipt(server_id="AuditEvent/c", server_time=SERVER_TIME))
    outbox.fail(refused.id, "the server rejected the request (HTTP 422)", retry=False)
    outbox.append("link", "e", b"{}", kiosk="er-1")  # queued, never tried

    listed = outbox.entries()
    assert [(i.kind, i.delivery) for i in listed] == [
        ("link", DeliveryState.SENT),
        ("audit", DeliveryState.GIVEN_UP),
        ("audit", DeliveryState.DELIVERED),
        ("check-in", DeliveryState.RETRYING),
        ("check-in", DeliveryState.SENT),
    ], "newest first"
    (again,) = outbox.entries(delivery="retrying")
    assert (again.attempts, again.reason) == (1, "the server did not answer within 5 s")
    assert again.next_attempt_at is not None and again.next_attempt_at.timestamp() > clock(), "after the backoff"
    (gone,) = outbox.entries(delivery=DeliveryState.GIVEN_UP)
    assert gone.reason == "the server rejected the request (HTTP 422)" and gone.next_attempt_at is None
    (done,) = outbox.entries(delivery="delivered")
    assert (done.server_id, done.server_time, done.next_attempt_at) == ("AuditEvent/c", SERVER_TIME, None)
    sent = outbox.entries(delivery="sent")
    assert [(i.kind, i.attempts, i.reason) for i in sent] == [("link", 0, None), ("check-in", 1, None)]
    assert on_its_way.id == sent[1].id

    assert [i.kind for i in outbox.entries(kind="check-in")] == ["check-in", "check-in"]
    assert [i.delivery for i in outbox.entries(kiosk="reception-2")] == ["given-up", "delivered"]
    start = dt.datetime.fromtimestamp(began + 60, tz=dt.UTC)
    assert [i.kind for i in outbox.entries(since=start)] == ["link", "audit", "audit", "check-in"]
    assert [i.kind for i in outbox.entries(since=start, until=start + dt.timedelta(seconds=60))] == ["check-in"]
    assert [i.delivery for i in outbox.entries(delivery="retrying", kiosk="er-1", kind="check-in")] == ["retrying"]


def test_the_text_search_reads_kind_server_id_and_fault_in_any_case(open_cache: Opener, clock: Clock) -> None:
    outbox = open_cache().outbox
    for n in range(30):
        outbox.append("audit", f"event-{n}", b"{}", kiosk="er-1")
        clock.advance(1)
    outbox.append("registration", f"register:{TEMPORARY}", b"{}", kiosk="er-1")
    entries = outbox.claim(limit=31)
    for entry in entries:
        if entry.kind == "registration":
            outbox.acknowledge(entry.id, Receipt(server_id=f"Patient/{TEMPORARY}"))
        elif entry.idempotency_key == "event-3":
            outbox.fail(entry.id, "the server failed (HTTP 500)")
        else:
            outbox.acknowledge(entry.id, Receipt(server_id=f"AuditEvent/{entry.idempotency_key}"))

    assert [i.server_id for i in outbox.entries(search="tmp1234")] == [f"Patient/{TEMPORARY}"]
    assert [i.reason for i in outbox.entries(search="HTTP 500")] == ["the server failed (HTTP 500)"]
    assert [i.kind for i in outbox.entries(search="REGISTRATION")] == ["registration"]
    assert outbox.entries(search="nothing like it") == []
    some = outbox.entries(search="auditevent/event-", limit=5)
    assert [i.server_id for i in some] == [f"AuditEvent/event-{n}" for n in (29, 28, 27, 26, 25)]


def test_an_older_cache_file_gains_the_receipt_columns_in_place(open_cache: Opener, tmp_path: Path) -> None:
    """A kiosk's file made before receipts (schema step 1) opens with its messages, and takes receipts from then on."""
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    step_one = SCHEMA_STEPS[1].format(
        row_id="INTEGER PRIMARY KEY", row_ref="INTEGER", real="REAL", blob="BLOB", without_rowid=" WITHOUT ROWID"
    )
    with sqlite3.connect(folder / DB_NAME) as raw:
        raw.executescript(step_one)
        raw.execute(
            "INSERT INTO outbox (kind, idempotency_mac, state, attempts, created_at, updated_at, due_at)"
            " VALUES ('audit', x'00', 'acknowledged', 1, 1.0e9, 1.0e9, 1.0e9)"
        )
        raw.execute("PRAGMA user_version=1")
    (folder / DB_NAME).chmod(0o600)

    cache = open_cache(retry=RetryPolicy(acknowledged_retention=10**12))
    (old,) = cache.outbox.entries()
    assert (old.delivery, old.kiosk, old.server_id, old.server_time) == ("delivered", None, None, None)
    cache.outbox.append("check-in", "check-in:a1", b"{}", kiosk="reception-2")
    (entry,) = cache.outbox.claim()
    cache.outbox.acknowledge(entry.id, Receipt(server_id="Appointment/a1", server_time=SERVER_TIME))
    newest = cache.outbox.entries()[0]
    assert (newest.kiosk, newest.server_id, newest.server_time) == ("reception-2", "Appointment/a1", SERVER_TIME)
    cache.close()
    with sqlite3.connect(folder / DB_NAME) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_delivered_messages_stay_listed_for_thirty_days(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache()
    assert cache.outbox.policy.acknowledged_retention == 30 * 86_400
    cache.outbox.append("audit", "e1", b"{}", kiosk="er-1")
    (entry,) = cache.outbox.claim()
    cache.outbox.acknowledge(entry.id, Receipt(server_id="AuditEvent/e1", server_time=SERVER_TIME))
    clock.advance(29 * 86_400)
    assert cache.purge() == 0 and [i.server_id for i in cache.outbox.entries()] == ["AuditEvent/e1"]
    clock.advance(2 * 86_400)
    assert cache.purge() == 1 and cache.outbox.entries() == []
