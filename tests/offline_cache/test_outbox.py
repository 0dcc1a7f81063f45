"""The outbox: idempotent append, claim under a lease, acknowledge, retry with backoff, give up with a reason."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lookup.service.cache_protocol import Outbox, OutboxEntry
from offline_cache import OutboxState, RetryPolicy
from tests.offline_cache.conftest import Clock, Opener


def test_the_outbox_is_the_lookup_outbox_protocol(open_cache: Opener) -> None:
    outbox: Outbox = open_cache().outbox  # checked by mypy
    outbox.append("audit", "event-1", b'{"id": 1}')
    outbox.append("audit", "event-1", b'{"id": 1}')
    claimed: Sequence[OutboxEntry] = outbox.claim()
    assert [(e.kind, e.idempotency_key, e.payload, e.attempts) for e in claimed] == [
        ("audit", "event-1", b'{"id": 1}', 1)
    ]
    outbox.acknowledge(claimed[0].id)
    assert outbox.claim() == []


def test_states_and_entries_list_messages_without_payloads(open_cache: Opener) -> None:
    outbox = open_cache().outbox
    for i in range(4):
        outbox.append("check-in", f"check-in:a{i}", b"secret payload")
    first, second, third = outbox.claim(limit=3)
    outbox.acknowledge(first.id)
    outbox.fail(second.id, "server answered 422", retry=False)
    assert outbox.states() == {
        OutboxState.QUEUED: 1,
        OutboxState.SENT: 1,
        OutboxState.ACKNOWLEDGED: 1,
        OutboxState.FAILED: 1,
    }
    failed = outbox.entries("failed")
    assert [(e.id, e.reason, e.next_attempt_at) for e in failed] == [(second.id, "server answered 422", None)]
    listed = outbox.entries()
    assert [e.state for e in listed] == ["queued", "sent", "failed", "acknowledged"], "newest first"
    assert all("payload" not in e.model_dump() for e in listed)
    assert "secret payload" not in str([e.model_dump() for e in listed])
    assert third.id == listed[1].id


def test_a_crashed_senders_messages_come_back_after_the_lease(open_cache: Opener, clock: Clock) -> None:
    outbox = open_cache(retry=RetryPolicy(lease_seconds=60)).outbox
    outbox.append("audit", "e1", b"x")
    assert len(outbox.claim()) == 1  # the sender dies here, before acknowledging
    assert outbox.claim() == []
    clock.advance(61)
    again = outbox.claim()
    assert [e.idempotency_key for e in again] == ["e1"] and again[0].attempts == 2
    outbox.acknowledge(again[0].id)
    assert outbox.states()[OutboxState.ACKNOWLEDGED] == 1


def test_failures_back_off_exponentially_with_jitter_then_give_up(open_cache: Opener, clock: Clock) -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=10, max_delay=1000, rng=random.Random(7))
    outbox = open_cache(retry=policy).outbox
    outbox.append("audit", "e1", b"x")
    delays = []
    for _ in range(3):
        (entry,) = outbox.claim()
        outbox.fail(entry.id, "connection refused")
        (item,) = outbox.entries("queued")
        assert item.next_attempt_at is not None and item.reason == "connection refused"
        delay = item.next_attempt_at.timestamp() - clock()
        delays.append(delay)
        assert outbox.claim() == []  # not due yet
        clock.advance(delay + 0.001)
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    (entry,) = outbox.claim()
    assert entry.attempts == 4
    outbox.fail(entry.id, "connection refused")
    (failed,) = outbox.entries("failed")
    assert failed.reason == "gave up after 4 attempts: connection refused"
    clock.advance(10_000)
    assert outbox.claim() == []
    outbox.requeue(failed.id)
    assert [e.attempts for e in outbox.claim()] == [1]


def test_a_message_never_acknowledged_is_failed_after_the_limit(open_cache: Opener, clock: Clock) -> None:
    outbox = open_cache(retry=RetryPolicy(max_attempts=2, lease_seconds=10)).outbox
    outbox.append("audit", "e1", b"x")
    for _ in range(2):
        assert len(outbox.claim()) == 1
        clock.advance(11)
    assert outbox.claim() == []
    (failed,) = outbox.entries(OutboxState.FAILED)
    assert failed.reason == "no acknowledgement after 2 delivery attempts"


def test_delivered_messages_are_purged_after_their_retention(open_cache: Opener, clock: Clock) -> None:
    cache = open_cache(retry=RetryPolicy(acknowledged_retention=3600))
    cache.outbox.append("audit", "e1", b"x")
    cache.outbox.append("audit", "e2", b"x")
    entry = cache.outbox.claim(limit=1)[0]
    cache.outbox.acknowledge(entry.id)
    assert cache.purge() == 0
    clock.advance(3601)
    assert cache.purge() == 1
    assert cache.outbox.states()[OutboxState.QUEUED] == 1
    cache.outbox.append("audit", "e2", b"x")
    assert cache.outbox.states()[OutboxState.QUEUED] == 1
