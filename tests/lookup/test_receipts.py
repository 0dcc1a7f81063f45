"""Delivery receipts: read from the server's answer (its resource, else its `Location`; its `meta.lastUpdated`, else its
`Date`), kept by the outbox on delivery and on a message sent while someone waits, which carries its idempotency key
in a header; nothing but a resource type and a FHIR id is taken from where the server points."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from lookup.service.audit import Delivery
from lookup.service.outbox_writer import OutboxWriter
from lookup.service.receipts import Receipt, receipt_of
from lookup.transport.client import Answer, FhirClient
from lookup.transport.config import ServerConfig
from offline_cache import DeliveryState
from tests.lookup.fhirserver import Faulty, serve

DATE = "Sun, 01 Mar 2026 01:30:05 GMT"
AT = dt.datetime(2026, 3, 1, 1, 30, 5, tzinfo=dt.UTC)
ARRIVED = {"resourceType": "Appointment", "id": "a1", "status": "arrived", "participant": []}


@pytest.mark.parametrize(
    ("path", "answer", "expected"),
    [
        (
            "Encounter/walkin-1",
            Answer(
                body={
                    "resourceType": "Encounter",
                    "id": "walkin-1",
                    "meta": {"lastUpdated": "2026-03-01T08:30:05+07:00"},
                }
            ),
            Receipt(server_id="Encounter/walkin-1", server_time=AT),
        ),
        (
            "AuditEvent/e-1",
            Answer(
                body={"resourceType": "OperationOutcome", "issue": []},
                location="https://fhir.example.vn/fhir/AuditEvent/e-1/_history/3",
                date=DATE,
            ),
            Receipt(server_id="AuditEvent/e-1", server_time=AT),
        ),
        (
            "Patient",
            Answer(body={"resourceType": "Patient", "id": "TMP123456782"}, date=DATE),
            Receipt(server_id="Patient/TMP123456782", server_time=AT),
        ),
        (
            "Patient/p1/$link-identity",
            Answer(body={"resourceType": "Patient", "id": "p1"}),
            Receipt(server_id="Patient/p1"),
        ),
        ("Appointment/a1", Answer(body={}, location="javascript:alert(1)", date="not a date"), Receipt()),
        (
            "Appointment/a1",
            Answer(body={"resourceType": "Appointment", "id": "a 1"}, location="/Patient/<b>"),
            Receipt(),
        ),
    ],
)
def test_a_receipt_is_what_the_answer_says(path: str, answer: Answer, expected: Receipt) -> None:
    assert receipt_of(Delivery(path=path, body={}), answer) == expected


@pytest.fixture
def server() -> Iterator[tuple[Faulty, str]]:
    app = Faulty()
    with serve(app) as base:
        yield app, base


@pytest.fixture
async def client(server: tuple[Faulty, str]) -> AsyncIterator[FhirClient]:
    config = ServerConfig(base_url=server[1], client_id="demo-er", client_secret="demo-er", timeout_s=2, retries=0)
    made = FhirClient(config)
    yield made
    await made.aclose()


async def test_messages_sent_at_once_and_later_end_delivered_with_receipts(
    server: tuple[Faulty, str], client: FhirClient, open_cache: Callable[..., Any]
) -> None:
    app, _ = server
    cache = open_cache()
    writer = OutboxWriter(client, cache.outbox, kiosk_name="reception-2")
    sent = await writer.send_check_in(ARRIVED)
    assert sent.answer is not None and sent.fault is None and app.appointments["a1"]["status"] == "arrived"
    writer.audit("lookup", "success", "p1")
    assert await writer.deliver() == 1

    audit, arrival = sorted(cache.outbox.entries(), key=lambda i: i.kind)
    assert (arrival.kind, arrival.delivery, arrival.server_id, arrival.kiosk) == (
        "check-in",
        DeliveryState.DELIVERED,
        "Appointment/a1",
        "reception-2",
    )
    (event_id,) = app.audits
    assert (audit.delivery, audit.server_id, audit.kiosk) == (
        DeliveryState.DELIVERED,
        f"AuditEvent/{event_id}",
        "reception-2",
    )
    assert audit.server_time is not None and arrival.server_time is not None, "the Date of the server's answer"
    assert [h.get("idempotency-key") for h in app.headers_of("PUT Appointment/a1")] == ["check-in:a1"]
    assert [h.get("idempotency-key") for h in app.headers_of(f"PUT AuditEvent/{event_id}")] == [event_id]


async def test_a_message_sent_while_the_server_is_down_waits_for_the_next_delivery(
    server: tuple[Faulty, str], client: FhirClient, open_cache: Callable[..., Any]
) -> None:
    app, _ = server
    cache = open_cache()
    writer = OutboxWriter(client, cache.outbox, kiosk_name="reception-2")
    app.fault, app.fault_path = "500", "Appointment"
    sent = await writer.send_check_in(ARRIVED)
    assert sent.answer is None and sent.fault is not None and sent.kept
    (waiting,) = cache.outbox.entries()
    assert (waiting.delivery, waiting.attempts, waiting.reason) == (
        DeliveryState.RETRYING,
        1,
        "the server failed (HTTP 500)",
    )
    app.fault = None
    assert await writer.deliver() == 1, "due at once: the clerk was told it goes with the next delivery"
    assert cache.outbox.entries()[0].server_id == "Appointment/a1"

    refused = await writer.send("check-in", "check-in:nowhere", Delivery(path="Nowhere/1", body={}))
    assert refused.fault is not None and not refused.kept
    (gone,) = cache.outbox.entries(delivery="given-up")
    assert gone.reason == "the server has no such resource"
