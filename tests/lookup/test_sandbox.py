"""Against the sandbox over real loopback HTTP: the same answers with and without `$match`/`$summary`, consent and
break-glass, the lobby's limits enforced by the server, demographic search, reception flows, and the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lookup.domain.model import LookupOutcome, LookupSource, LookupStatus, MatchGrade, SignatureStatus
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson, generate_people
from scanners.payloads import interpret
from tests.lookup.fhirserver import free_port

POPULATION = 400
SEED = 11


@pytest.fixture(scope="module")
def people() -> list[SyntheticPerson]:
    return list(generate_people(POPULATION, SEED))


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    folder = tmp_path_factory.mktemp("sandbox")
    full = SandboxConfig(db_path=folder / "full.db", population=POPULATION, seed=SEED, demo_clients=True)
    plain = full.model_copy(update={"db_path": folder / "plain.db", "supports_match": False, "supports_summary": False})
    with start_sandbox(full) as a, start_sandbox(plain) as b:
        yield a, b


def service(sandbox: RunningSandbox, client: str = "demo-er", **kw: Any) -> LookupService:
    config = ServerConfig(base_url=sandbox.base_url, client_id=client, client_secret=client, timeout_s=5.0, **kw)
    return LookupService(config, trust=TrustList.load(sandbox.trust_list_path))


def comparable(outcome: LookupOutcome) -> dict[str, Any]:
    data = outcome.model_dump(mode="json")
    data["candidates"] = [c["patient"]["id"] for c in data["candidates"]][:1]
    return data


async def test_same_answer_without_match_and_summary(
    sandboxes: tuple[RunningSandbox, RunningSandbox], people: list[SyntheticPerson]
) -> None:
    full, plain = (service(s) for s in sandboxes)
    try:
        documents = 0
        for person in people[:25]:
            scan = interpret(cccd_qr_text(person), format="QRCode", decoder="zxing-cpp")
            a = await full.by_scan(scan)
            b = await plain.by_scan(scan)
            assert a.status in (LookupStatus.FOUND, LookupStatus.CONSENT_REQUIRED)
            assert a.patient is not None and a.patient.id == person.patient_id
            assert comparable(a) == comparable(b)
            if a.summary is not None:
                documents += len(a.summary.documents)
                assert all(d.signature.status is SignatureStatus.VALID for d in a.summary.documents)
        assert documents > 0, "some people have signed documents"
        for person in people[25:35]:
            a = await full.by_demographics(person.demographics())
            b = await plain.by_demographics(person.demographics())
            assert a.status is b.status
            top_a = a.patient.id if a.patient else a.candidates[0].patient.id
            top_b = b.patient.id if b.patient else b.candidates[0].patient.id
            assert top_a == top_b == person.patient_id
    finally:
        await full.aclose()
        await plain.aclose()


async def test_consent_break_glass_and_lobby_limits(
    sandboxes: tuple[RunningSandbox, RunningSandbox], people: list[SyntheticPerson]
) -> None:
    for sandbox in sandboxes:
        er = service(sandbox)
        lobby = service(sandbox, "demo-lobby", mode="lobby")
        lobby_as_er = service(sandbox, "demo-lobby")
        try:
            refused: LookupOutcome | None = None
            for person in people[:120]:
                outcome = await er.open_patient(person.patient_id)
                if outcome.status is LookupStatus.CONSENT_REQUIRED:
                    refused = outcome
                    break
            assert refused is not None and refused.patient is not None, "some people have not consented"
            glass = await er.break_glass(refused.patient.id, "bất tỉnh, không người nhà")
            assert glass.status is LookupStatus.FOUND and glass.break_glass and glass.summary is not None
            scan = interpret(cccd_qr_text(people[0]), format="QRCode", decoder="zxing-cpp")
            seen = await lobby.by_scan(scan)
            assert seen.status is LookupStatus.FOUND and seen.summary is None
            # By id alone the lobby could walk the register: the server refuses it.
            by_id = await lobby.open_patient(people[0].patient_id)
            assert by_id.patient is None and by_id.status is LookupStatus.OFFLINE
            denied = await lobby_as_er.open_patient(people[0].patient_id)
            assert denied.summary is None and denied.status is LookupStatus.OFFLINE
            assert denied.message == "the server does not allow this kiosk to read that"
        finally:
            for s in (er, lobby, lobby_as_er):
                await s.aclose()


async def test_demographic_typo_gives_candidates_not_certain(
    sandboxes: tuple[RunningSandbox, RunningSandbox], people: list[SyntheticPerson]
) -> None:
    person = people[40]
    vague = person.demographics().model_copy(update={"birth_date": None, "birth_year": None, "phone": None})
    for sandbox in sandboxes:
        s = service(sandbox)
        try:
            outcome = await s.by_demographics(vague)
        finally:
            await s.aclose()
        assert outcome.status in (LookupStatus.CANDIDATES, LookupStatus.FOUND)
        ids = [c.patient.id for c in outcome.candidates]
        assert person.patient_id in ids
        if outcome.status is LookupStatus.CANDIDATES:
            assert all(c.grade is not MatchGrade.CERTAIN for c in outcome.candidates[:1]) or len(ids) > 1


async def test_cache_answers_with_the_sandbox_stopped(
    tmp_path: Path, people: list[SyntheticPerson], open_cache: Callable[..., Any]
) -> None:
    cache = open_cache()
    config = SandboxConfig(db_path=tmp_path / "s.db", population=60, seed=SEED, demo_clients=True)
    sandbox = start_sandbox(config)
    trust = TrustList.load(sandbox.trust_list_path)
    settings = ServerConfig(
        base_url=sandbox.base_url,
        client_id="demo-reception",
        client_secret="demo-reception",
        mode="reception",
        timeout_s=2.0,
    )
    online = LookupService(settings, trust=trust, cache=cache.records, outbox=cache.outbox)
    scans = [interpret(cccd_qr_text(p), format="QRCode", decoder="zxing-cpp") for p in people[:20]]
    try:
        first = [await online.by_scan(s) for s in scans]
        today = [await online.appointments_today(p.patient_id) for p in people[:60]]
    finally:
        await online.aclose()
        sandbox.stop()
    offline = LookupService(settings, trust=trust, cache=cache.records, outbox=cache.outbox)
    try:
        again = [await offline.by_scan(s) for s in scans]
        for a, b in zip(first, again, strict=True):
            assert b.source is LookupSource.CACHE and b.age_seconds is not None
            assert (a.status, a.patient) == (b.status, b.patient)
            # Reception is shown referrals, never a summary: online no document, offline nothing clinical kept.
            assert a.summary is None or not a.summary.documents
            assert b.summary is None
        booked = [a for day in today for a in day if a.status == "booked"]
        if booked:
            queued = await offline.check_in(booked[0].id)
            assert queued.status == "queued"
        query = people[3].demographics()
        offline_match = await offline.by_demographics(query)
        assert offline_match.source is LookupSource.CACHE
        assert people[3].patient_id in {c.patient.id for c in offline_match.candidates} | (
            {offline_match.patient.id} if offline_match.patient else set()
        )
    finally:
        await offline.aclose()


async def test_prefetch_fills_the_cache_for_referred_patients(
    sandboxes: tuple[RunningSandbox, RunningSandbox], open_cache: Callable[..., Any]
) -> None:
    cache = open_cache()
    sandbox = sandboxes[0]
    trust = TrustList.load(sandbox.trust_list_path)
    config = ServerConfig(
        base_url=sandbox.base_url,
        client_id="demo-reception",
        client_secret="demo-reception",
        facility_code="01929",
        mode="reception",
    )
    reception = LookupService(config, trust=trust, cache=cache.records, outbox=cache.outbox)
    try:
        result = await reception.prefetch()
        referrals = await reception.fetch.referrals_to("01929")
    finally:
        await reception.aclose()
    assert result.referrals == len(referrals) > 0
    assert result.patients > 0 and result.summaries + result.patients > 0
    referred = str(referrals[0]["subject"]["reference"]).removeprefix("Patient/")
    dead = config.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/fhir"})
    offline = LookupService(dead, trust=trust, cache=cache.records, outbox=cache.outbox)
    try:
        outcome = await offline.open_patient(referred)
    finally:
        await offline.aclose()
    assert outcome.source is LookupSource.CACHE and outcome.patient is not None
    assert outcome.patient.id == referred


async def test_reception_that_cannot_read_referrals_is_told_so_not_shown_none(
    sandboxes: tuple[RunningSandbox, RunningSandbox], people: list[SyntheticPerson]
) -> None:
    # demo-reception works for facility 01929; a kiosk set up for another facility is refused its referrals.
    own = service(sandboxes[0], "demo-reception", mode="reception", facility_code="01929")
    other = service(sandboxes[0], "demo-reception", mode="reception", facility_code="79033")
    scan = interpret(cccd_qr_text(people[0]), format="QRCode", decoder="zxing-cpp")
    try:
        shown, refused = await own.by_scan(scan), await other.by_scan(scan)
    finally:
        await own.aclose()
        await other.aclose()
    assert shown.status is refused.status is LookupStatus.FOUND
    assert shown.summary is not None
    # An empty referral list would read as "no referrals": the outcome carries no summary at all instead.
    assert refused.summary is None
