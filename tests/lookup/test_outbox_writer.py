"""The outbox writer on its own: what it queues in the real encrypted outbox, what it delivers to a real HTTP server
on 127.0.0.1, where delivery stops when the server goes, and the background send when there is no outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import pytest

from lookup.service.audit import Delivery
from lookup.service.cache_protocol import DeliveryReceipt, OutboxEntry
from lookup.service.outbox_writer import OutboxWriter
from lookup.transport.client import FhirClient
from lookup.transport.config import ServerConfig
from offline_cache import OutboxState
from tests.lookup.fhirserver import Faulty, serve

ARRIVED = {"resourceType": "Appointment", "id": "a1", "status": "arrived", "participant": []}


class Clock:
    """The cache's clock, moved by the test past a retry's backoff."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class BrokenOutbox:
    """An outbox whose disk refuses every write."""

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        raise OSError("disk full")

    def claim(self, limit: int = 20, *, key: str | None = None) -> Sequence[OutboxEntry]:
        return []

    def acknowledge(self, entry_id: int, receipt: DeliveryReceipt | None = None) -> None: ...

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None: ...


@pytest.fixture
def server() -> Iterator[tuple[Faulty, str]]:
    app = Faulty()
    with serve(app) as base:
        yield app, base


@pytest.fixture
async def client(server: tuple[Faulty, str]) -> AsyncIterator[FhirClient]:
    _, base = server
    # No retries: one failed PUT leaves the circuit closed, so the second delivery is not refused by the breaker.
    config = ServerConfig(base_url=base, client_id="demo-er", client_secret="demo-er", timeout_s=0.5, retries=0)
    made = FhirClient(config)
    yield made
    await made.aclose()


async def test_queued_messages_wait_until_delivered_once_each(
    server: tuple[Faulty, str], client: FhirClient, open_cache: Callable[..., Any]
) -> None:
    app, _ = server
    cache = open_cache()
    writer = OutboxWriter(client, cache.outbox)
    writer.audit("lookup", "success", "p1")
    writer.audit("break-glass", "success", "p2", True, "cấp cứu")
    assert writer.check_in(ARRIVED) and writer.check_in(ARRIVED)
    assert cache.outbox.states()[OutboxState.QUEUED] == 3, "one check-in kept, not two"
    await writer.drain()
    assert app.requests == [], "nothing is sent before a delivery"

    assert await writer.deliver() == 3
    assert await writer.deliver() == 0
    assert writer.delivered == 3 and cache.outbox.states()[OutboxState.ACKNOWLEDGED] == 3
    assert app.appointments["a1"] == ARRIVED
    assert sorted(a["outcomeDesc"] for a in app.audits.values()) == ["break-glass: success", "lookup: success"]
    assert [r for r in app.requests if r.startswith("PUT")] == [
        *(f"PUT AuditEvent/{event_id}" for event_id in app.audits),
        "PUT Appointment/a1",
    ]


async def test_delivery_stops_at_the_server_going_and_fails_what_it_refuses(
    server: tuple[Faulty, str], client: FhirClient, open_cache: Callable[..., Any]
) -> None:
    app, _ = server
    clock = Clock()
    cache = open_cache(clock=clock)
    writer = OutboxWriter(client, cache.outbox)
    cache.outbox.append("audit", "garbled", b"not a delivery")
    cache.outbox.append("audit", "nowhere", Delivery(path="Nowhere/1", body={}).encode())
    assert writer.check_in(ARRIVED)
    writer.audit("lookup", "success", "p1")
    writer.audit("search", "not-found", None)
    app.fault, app.fault_path = "500", "AuditEvent"

    assert await writer.deliver() == 1, "the check-in went; the first audit event met the failing server"
    assert sum(r.startswith("PUT AuditEvent/") for r in app.requests) == 1, "the second event was not tried"
    failed = {item.reason for item in cache.outbox.entries(OutboxState.FAILED)}
    assert failed == {"the queued message is unreadable", "the server has no such resource"}
    waiting = cache.outbox.entries(OutboxState.QUEUED)
    assert [item.reason for item in waiting] == ["the server failed (HTTP 500)"] * 2

    app.fault = None
    clock.now += 3600
    assert await writer.deliver() == 2
    assert len(app.audits) == 2 and writer.delivered == 3 and writer.queued == 3


async def test_without_an_outbox_audit_events_are_sent_in_the_background(
    server: tuple[Faulty, str], client: FhirClient
) -> None:
    app, _ = server
    for outbox in (None, BrokenOutbox()):
        writer = OutboxWriter(client, outbox)
        writer.audit("open", "consent-required", "p2")
        await writer.drain()
        assert writer.queued == 0 and await writer.deliver() == 0
    assert [a["outcomeDesc"] for a in app.audits.values()] == ["open: consent-required"] * 2
    assert not OutboxWriter(client, None).check_in(ARRIVED)
    assert not OutboxWriter(client, BrokenOutbox()).check_in(ARRIVED)
    assert not OutboxWriter(client, None).keeps_messages
