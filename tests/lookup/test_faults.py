"""Every fault of a FHIR server gives its own clear outcome, never an exception; tampering is shown, not cached as
valid. Each runs against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import time

from lookup.domain.model import Identifier, LookupSource, LookupStatus, SignatureStatus
from lookup.service.results import LookupStep
from tests.lookup.conftest import CARD, OTHER, ServiceFactory
from tests.lookup.fhirserver import CCCD, Faulty, free_port

ID = Identifier(system=CCCD, value=CARD)


async def test_found_with_verified_summary(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    service = make_service(base, app)
    steps: list[tuple[str, str]] = []
    outcome = await service.by_identifier(ID, progress=lambda s: steps.append((s.name, s.state)))
    assert outcome.status is LookupStatus.FOUND and outcome.source is LookupSource.NETWORK
    assert outcome.summary is not None
    assert [d.signature.status for d in outcome.summary.documents] == [SignatureStatus.VALID]
    assert outcome.summary.documents[0].signature.issuer == "01001 Bệnh viện Bạch Mai"
    assert outcome.summary.allergies[0].text == "Penicillin"
    assert outcome.summary.blood_type is not None and outcome.summary.blood_type.text == "O+"
    assert ("identify", "done") in steps and ("verify", "done") in steps
    summary_headers = app.headers_of("$summary")
    assert summary_headers[0]["x-purpose-of-use"] == "ETREAT"


async def test_server_down_is_offline_and_costs_one_attempt(make_service: ServiceFactory) -> None:
    service = make_service(f"http://127.0.0.1:{free_port()}/fhir")
    outcome = await service.by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.message == "the server cannot be reached (connection refused or reset)"
    status = await service.status()
    assert not status.online and status.breaker == "open"
    again = await service.by_identifier(ID)
    assert again.status is LookupStatus.OFFLINE and "not asked again" in (again.message or "")


async def test_hanging_server_costs_one_timeout_then_the_circuit_answers_at_once(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    app.fault = "hang"
    service = make_service(base, app, timeout_s=0.4)
    started = time.perf_counter()
    outcome = await service.by_identifier(ID)
    first = time.perf_counter() - started
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.message == "the server did not answer within 0.4 s"
    assert 0.35 < first < 3.0, "one timeout, not one per retry"
    asked = len(app.requests)
    second = await service.by_identifier(ID)
    assert second.status is LookupStatus.OFFLINE
    assert len(app.requests) == asked, "an open circuit does not ask the hanging server again"


async def test_500_is_retried_then_reported(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path = "500", "Patient"
    service = make_service(base, app)
    outcome = await service.by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE and outcome.message == "the server failed (HTTP 500)"
    assert sum(1 for r in app.requests if r == "GET Patient") == 3, "two retries of an idempotent GET"


async def test_500_once_is_absorbed_by_a_retry(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path, app.fault_times = "500", "$summary", 1
    outcome = await make_service(base, app).by_identifier(ID)
    assert outcome.status is LookupStatus.FOUND and outcome.summary is not None


async def test_429_short_retry_after_is_honoured(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path, app.fault_times, app.retry_after = "429", "Patient", 1, 1
    started = time.perf_counter()
    outcome = await make_service(base, app).by_identifier(ID)
    assert outcome.status is LookupStatus.FOUND
    assert time.perf_counter() - started >= 0.95, "waited as Retry-After asked"


async def test_429_long_retry_after_is_busy_at_once(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path, app.retry_after = "429", "Patient", 120
    service = make_service(base, app)
    started = time.perf_counter()
    outcome = await service.by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.message == "the server is busy (HTTP 429); retry after 120 s"
    assert time.perf_counter() - started < 10, "did not wait the 120 s"
    asked = len(app.requests)
    again = await service.by_identifier(ID)
    assert again.status is LookupStatus.OFFLINE and len(app.requests) == asked, "not asked while it said to wait"


async def test_truncated_json(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path = "truncated", "Patient"
    outcome = await make_service(base, app).by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.message == "the server's answer was cut short (incomplete JSON)"


async def test_invalid_json(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.fault, app.fault_path = "invalid", "Patient"
    outcome = await make_service(base, app).by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.message == "the server's answer is not valid FHIR JSON"


async def test_one_changed_byte_makes_the_document_invalid(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    app.tamper("p1", "Penicilline")
    outcome = await make_service(base, app).by_identifier(ID)
    assert outcome.status is LookupStatus.FOUND and outcome.summary is not None
    assert outcome.summary.has_invalid_document
    assert outcome.summary.allergies[0].provenance.signature is SignatureStatus.INVALID


async def test_consent_required_then_break_glass(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    service = make_service(base, app)
    outcome = await service.by_identifier(Identifier(system=CCCD, value=OTHER))
    assert outcome.status is LookupStatus.CONSENT_REQUIRED
    assert outcome.patient is not None and outcome.patient.id == "p2" and outcome.summary is None
    await service.drain()  # the consent-required audit goes in the background; its PUT must not be the last request
    glass = await service.break_glass("p2", "bất tỉnh, cấp cứu")
    assert glass.status is LookupStatus.FOUND and glass.break_glass and glass.summary is not None
    sent = app.headers_of("Patient/p2/$summary")[-1]  # the fetch after the break-glass, not an audit sent meanwhile
    assert sent["x-purpose-of-use"] == "BTG"
    assert sent["x-break-glass-reason"].startswith("b%E1%BA%A5t")
    no_reason = await service.break_glass("p2", "   ")
    assert no_reason.status is LookupStatus.CONSENT_REQUIRED and no_reason.message == "break-glass needs a reason"


async def test_not_found_and_unknown_patient(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    service = make_service(base, app)
    outcome = await service.by_identifier(Identifier(system=CCCD, value="001190099999"))
    assert outcome.status is LookupStatus.NOT_FOUND
    opened = await service.open_patient("p404")
    assert opened.status is LookupStatus.NOT_FOUND


async def test_token_refreshed_on_401_and_server_without_token_or_metadata(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    service = make_service(base, app)
    assert (await service.by_identifier(ID)).status is LookupStatus.FOUND
    assert app.tokens_issued == 1
    await service.drain()
    app.valid_tokens.clear()  # the server forgets every token it issued (a restart, say)
    assert (await service.by_identifier(ID)).status is LookupStatus.FOUND
    assert app.tokens_issued == 2, "a 401 fetched a new token once"
    await service.drain()  # its audit of that lookup carries its token; it must not land among the bare client's

    app.with_token = False
    app.with_metadata = False
    bare = make_service(base, app)
    before = len(app.headers_seen)
    assert (await bare.by_identifier(ID)).status is LookupStatus.FOUND
    await bare.drain()
    sent = app.headers_seen[before:]
    assert sent and not any(h.get("authorization") for h in sent)


async def test_plain_server_without_summary_gives_the_same_answer(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    with_op = await make_service(base, app).by_identifier(ID)
    app.with_summary = False
    for metadata in (True, False):
        app.with_metadata = metadata
        plain = make_service(base, app)
        steps: list[LookupStep] = []
        without = await plain.by_identifier(ID, progress=steps.append)
        assert without == with_op
        assert ("summary", "done", "1 documents") in [(s.name, s.state, s.detail) for s in steps]
        assert not any(r.endswith("$summary") for r in app.requests[-4:]) or not metadata
        refused = await plain.by_identifier(Identifier(system=CCCD, value=OTHER))
        assert refused.status is LookupStatus.CONSENT_REQUIRED


async def test_a_malformed_patient_id_never_reaches_the_url(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    service = make_service(base, app)
    for bad in ("../AuditEvent", "p1?_format=xml", ""):
        assert (await service.open_patient(bad)).status is LookupStatus.NOT_FOUND
        assert (await service.break_glass(bad, "reason")).status is LookupStatus.NOT_FOUND
    assert app.requests == []


async def test_token_is_renewed_before_it_expires(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    app.token_lifetime = 1
    service = make_service(base, app)
    assert (await service.by_identifier(ID)).status is LookupStatus.FOUND
    await service.drain()
    issued, asked = app.tokens_issued, len(app.requests)
    await asyncio.sleep(1.0)
    assert (await service.by_identifier(ID)).status is LookupStatus.FOUND
    assert app.tokens_issued == issued + 1
    assert app.requests[asked : asked + 2] == ["POST auth/token", "GET Patient"], "renewed before, not after a 401"
