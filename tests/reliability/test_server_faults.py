"""Faults of the server and of the network, through the whole stack: each lookup ends in its own clear outcome, in
bounded time, answered from the offline cache where it holds the patient, and no audit event the kiosk accepted is
lost: what could not be delivered during the fault reaches the server once it recovers."""

from __future__ import annotations

import time

import pytest

from lookup.domain.model import LookupSource, LookupStatus, SignatureStatus
from lookup.service.lookup_service import LookupService
from sandbox.server.runner import RunningSandbox
from tests.reliability.conftest import Kiosk, KioskFactory, consenting_people, stored_kiosk_audits
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy

SUMMARY = "$summary"


async def _recovered_without_loss(sandbox: RunningSandbox, proxy: FaultProxy, kiosk: Kiosk) -> None:
    """Clear the fault and deliver the outbox: every audit event the kiosk accepted ends on the server.

    Messages whose delivery failed during the fault wait out the outbox's backoff (the test moves the cache's clock
    past it); a server that asked for a long wait (Retry-After) is not asked again by the same service before then,
    so a kiosk started later, on the same cache, delivers them. Nothing is ever dropped."""
    proxy.plan = None
    kiosk.clock.advance(3600)
    await kiosk.service.flush_outbox()
    left = kiosk.cache.stats().outbox
    assert left.get("failed", 0) == 0
    if left.get("queued", 0) or left.get("sent", 0):
        # The kiosk started later is not what is timed: a busy machine must not turn its delivery into one more retry.
        config = kiosk.service.config.model_copy(update={"timeout_s": 5.0})
        kiosk.clock.advance(3600)
        later = LookupService(config, trust=kiosk.trust, cache=kiosk.cache.records, outbox=kiosk.outbox)
        try:
            await later.flush_outbox()
        finally:
            await later.aclose()
    left = kiosk.cache.stats().outbox
    assert left.get("queued", 0) + left.get("sent", 0) + left.get("failed", 0) == 0
    assert kiosk.outbox.audit_ids
    assert stored_kiosk_audits(sandbox, kiosk.outbox.audit_ids) == kiosk.outbox.audit_ids


@pytest.mark.parametrize(
    ("plan", "said", "ceiling_s"),
    [
        (FaultPlan(Fault.KILL, SUMMARY), "cut short", 5.0),
        (FaultPlan(Fault.HANG, SUMMARY), "did not answer within 1 s", 8.0),
        (FaultPlan(Fault.STATUS, SUMMARY, status=500), "HTTP 500", 5.0),
        (FaultPlan(Fault.STATUS, SUMMARY, status=429, retry_after="30"), "busy (HTTP 429); retry after 30 s", 10.0),
        (FaultPlan(Fault.STATUS, SUMMARY, status=503, retry_after="120"), "busy (HTTP 503)", 10.0),
        (FaultPlan(Fault.TRUNCATE, SUMMARY), "cut short", 5.0),
        (FaultPlan(Fault.INVALID, SUMMARY), "not valid FHIR JSON", 5.0),
        (FaultPlan(Fault.TRUNCATE, "Patient?"), "cut short", 5.0),
    ],
    ids=["killed", "hanging", "500", "429", "503", "truncated", "invalid-json", "truncated-search"],
)
async def test_a_server_fault_is_answered_from_the_cache_and_loses_no_audit(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory, plan: FaultPlan, said: str, ceiling_s: float
) -> None:
    person = consenting_people(1)[0]
    kiosk = make_kiosk()
    first = await kiosk.scan(person)
    assert first.status is LookupStatus.FOUND and first.source is LookupSource.NETWORK
    assert first.summary is not None and first.summary.documents

    proxy.plan = plan
    started = time.monotonic()
    second = await kiosk.scan(person)
    elapsed = time.monotonic() - started
    assert proxy.hits >= 1
    assert elapsed < ceiling_s
    assert second.status is LookupStatus.FOUND and second.source is LookupSource.CACHE
    assert second.age_seconds is not None and second.message is not None and said in second.message
    assert second.summary is not None
    assert [d.signature.status for d in second.summary.documents] == [
        d.signature.status for d in first.summary.documents
    ]
    await _recovered_without_loss(sandbox, proxy, kiosk)


async def test_a_patient_not_in_the_cache_is_offline_with_the_cause(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory
) -> None:
    kiosk = make_kiosk()
    proxy.plan = FaultPlan(Fault.STATUS, status=500)
    outcome = await kiosk.scan(consenting_people(2)[1])
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.patient is None and outcome.summary is None
    assert outcome.message is not None and "HTTP 500" in outcome.message
    await _recovered_without_loss(sandbox, proxy, kiosk)


async def test_a_short_retry_after_is_waited_for_and_the_answer_is_fresh(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory
) -> None:
    kiosk = make_kiosk()
    proxy.plan = FaultPlan(Fault.STATUS, SUMMARY, status=503, retry_after="1", times=1)
    started = time.monotonic()
    outcome = await kiosk.scan(consenting_people(3)[2])
    assert 1.0 <= time.monotonic() - started < 4.0
    assert outcome.status is LookupStatus.FOUND and outcome.source is LookupSource.NETWORK
    assert outcome.summary is not None
    assert all(d.signature.status is SignatureStatus.VALID for d in outcome.summary.documents)
    await _recovered_without_loss(sandbox, proxy, kiosk)


async def test_a_server_dripping_one_byte_a_second_costs_a_bounded_wait(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory
) -> None:
    person = consenting_people(4)[3]
    # Each byte comes well within the per-read timeout (2 x 2 s for a summary): only a deadline on the whole
    # answer ends the wait.
    kiosk = make_kiosk(timeout_s=2.0)
    assert (await kiosk.scan(person)).status is LookupStatus.FOUND
    proxy.plan = FaultPlan(Fault.SLOW, SUMMARY)
    started = time.monotonic()
    outcome = await kiosk.scan(person)
    assert time.monotonic() - started < 15.0
    assert outcome.status is LookupStatus.FOUND and outcome.source is LookupSource.CACHE
    assert outcome.message is not None and "did not answer" in outcome.message
    await _recovered_without_loss(sandbox, proxy, kiosk)
