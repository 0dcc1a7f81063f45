"""Possible duplicates from the cache to the server: found when a patient is stored and by a scan of the whole cache,
decided by a staff member and remembered across scans, and a "same person" reaching the running reference server as
exactly one Linkage however often it is sent; a server without Linkage, or one that cannot be asked, keeps it here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lookup.domain.duplicates import DecisionStatus, DuplicateDecision, DuplicatePair
from lookup.domain.model import Identifier, PatientRecord
from lookup.service.audit import DUPLICATE_KIND, Delivery
from lookup.service.duplicate_finder import DuplicateFinder
from lookup.service.duplicate_review import LINKAGE, DuplicateReview, decision_key, linkage_resource
from lookup.service.lookup_service import LookupService
from lookup.service.offline_store import CachedPatient
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import OfflineCache, OutboxState
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.population import SyntheticPerson, generate_people
from tests.lookup.fhirserver import CCCD, Faulty, free_port, serve

SEED = 11


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[OfflineCache]:
    opened = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600.0)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def people() -> list[SyntheticPerson]:
    return list(generate_people(40, SEED))


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite", population=40, seed=SEED, demo_clients=True)
    with start_sandbox(config, trust_list_path=tmp_path / "trust.json", port=free_port()) as running:
        yield running


def record(person: SyntheticPerson, patient_id: str | None = None, cccd: str | None = None) -> PatientRecord:
    number = Identifier(system=CCCD, value=cccd or person.cccd)
    return PatientRecord(id=patient_id or person.patient_id, identifiers=(number,), demographics=person.demographics())


def service(base: str, cache: OfflineCache, trust: TrustList | None = None, **config: Any) -> LookupService:
    settings: dict[str, Any] = {"client_id": "demo-er", "client_secret": "demo-er", "timeout_s": 2.0}
    return LookupService(
        ServerConfig(base_url=base, **settings | config),
        trust=trust or TrustList.empty(),
        cache=cache.records,
        outbox=cache.outbox,
        review=cache.review,
    )


def review_of(lookup: LookupService, cache: OfflineCache) -> DuplicateReview:
    return DuplicateReview(cache.review, lookup.writer, lookup.client)


def linkages(running: RunningSandbox) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{running.config.db_path}?mode=ro", uri=True) as conn:
        return [orjson.loads(row[0]) for row in conn.execute("SELECT json FROM linkages")]


def in_order(one: PatientRecord, other: PatientRecord) -> DuplicatePair:
    """Two records of the sandbox's as a pair to decide about (the server takes any two Patients as one person)."""
    first, second = sorted((one, other), key=lambda r: r.id)
    return DuplicatePair(first=first, second=second, score=0.9)


def only_pair(review: DuplicateReview) -> DuplicatePair:
    (queued,) = review.waiting()
    return queued.pair


async def test_a_patient_stored_twice_under_two_ids_is_queued_and_decided_once(
    cache: OfflineCache, people: list[SyntheticPerson]
) -> None:
    lookup = service("http://127.0.0.1:9/fhir", cache)
    for person in people[:10]:
        assert lookup.store.save(CachedPatient(patient=record(person)))
    assert cache.review.waiting() == []  # ten different people: nothing to review
    lookup.store.save(CachedPatient(patient=record(people[3], "p3-again", cccd="079190000003")))
    review = review_of(lookup, cache)
    pair = only_pair(review)
    assert (pair.first.id, pair.second.id) == (people[3].patient_id, "p3-again")
    assert [(i.system, i.level) for i in pair.identifiers] == [(CCCD, "differs")]

    finder = DuplicateFinder(cache.records, cache.review)
    scanned = finder.scan(cache.records.scan())
    assert (scanned.patients, scanned.pairs, scanned.new) == (11, 1, 0)  # the scan finds what the check found
    decided = await review.decide(pair, DuplicateDecision.DIFFERENT, "nurse-lan")
    assert decided.status is DecisionStatus.LOCAL and decided.staff_id == "nurse-lan"
    assert finder.scan(cache.records.scan()).new == 0 and review.waiting() == []  # a decided pair stays decided
    lookup.store.save(CachedPatient(patient=record(people[3], "p3-again", cccd="079190000003")))
    assert review.waiting() == []
    again = await review.decide(pair, DuplicateDecision.SAME, "doctor-minh")
    assert (again.status, again.decision, again.staff_id) == (
        DecisionStatus.DECIDED_BEFORE,
        DuplicateDecision.DIFFERENT,
        "nurse-lan",
    )
    assert cache.outbox.states()[OutboxState.QUEUED] == 0  # "not the same person" is never sent
    refused = await review.decide(pair, DuplicateDecision.SAME, " ")
    assert refused.status is DecisionStatus.FAILED
    await lookup.aclose()


async def test_same_person_reaches_the_server_as_one_linkage_however_often_it_is_sent(
    cache: OfflineCache, people: list[SyntheticPerson], sandbox: RunningSandbox
) -> None:
    lookup = service(sandbox.base_url, cache, TrustList.load(sandbox.trust_list_path))
    pair = in_order(record(people[0]), record(people[1]))
    review = review_of(lookup, cache)
    made = await review.decide(pair, DuplicateDecision.SAME, "nurse-lan")
    assert made.status is DecisionStatus.SENT, made.message
    (kept,) = linkages(sandbox)
    assert kept["author"]["identifier"]["value"] == "nurse-lan"
    assert [(i["type"], i["resource"]["reference"]) for i in kept["item"]] == [
        ("source", f"Patient/{pair.first.id}"),
        ("alternate", f"Patient/{pair.second.id}"),
    ]
    decided = cache.review.decision(pair.first.id, pair.second.id)
    assert decided is not None and decided.delivery == "queued"

    # The same decision again, as a lost answer or a retry would send it, and the other way round from another kiosk.
    body = linkage_resource(pair.first.id, pair.second.id, "nurse-lan")
    delivery = Delivery(method="POST", path=LINKAGE, body=body)
    repeat = await lookup.writer.send(DUPLICATE_KIND, decision_key(pair.first.id, pair.second.id), delivery)
    assert repeat.fault is None and repeat.answer is not None and repeat.answer["id"] == kept["id"]
    swapped = linkage_resource(pair.second.id, pair.first.id, "doctor-minh")
    other = await lookup.client.send("POST", LINKAGE, swapped)
    assert other.body["id"] == kept["id"]
    assert len(linkages(sandbox)) == 1
    assert (await review.decide(pair, DuplicateDecision.SAME, "nurse-lan")).status is DecisionStatus.DECIDED_BEFORE
    assert len(linkages(sandbox)) == 1
    await lookup.aclose()


async def test_a_server_without_linkage_keeps_the_decision_here(
    cache: OfflineCache, people: list[SyntheticPerson]
) -> None:
    app = Faulty()
    app.add("p1", people[0].cccd)
    with serve(app) as base:
        lookup = service(base, cache, app.trust())
        pair = DuplicatePair(first=record(people[0], "a"), second=record(people[0], "b"), score=0.99)
        made = await review_of(lookup, cache).decide(pair, DuplicateDecision.SAME, "nurse-lan")
        await lookup.aclose()
    assert made.status is DecisionStatus.UNSUPPORTED
    assert not any(LINKAGE in request for request in app.requests)
    decided = cache.review.decision("a", "b")
    assert decided is not None and (decided.state, decided.delivery) == ("same", "local")
    assert sum(cache.outbox.states().values()) == 0


async def test_a_decision_made_while_the_server_cannot_be_asked_is_sent_once_it_answers(
    cache: OfflineCache, people: list[SyntheticPerson], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    pair = in_order(record(people[4]), record(people[5]))
    offline = service(base, cache, timeout_s=0.5)
    made = await review_of(offline, cache).decide(pair, DuplicateDecision.SAME, "nurse-lan")
    await offline.aclose()
    assert made.status is DecisionStatus.PENDING
    assert [(d.first, d.delivery) for d in cache.review.pending()] == [(pair.first.id, "pending")]

    config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite", population=40, seed=SEED, demo_clients=True)
    with start_sandbox(config, trust_list_path=tmp_path / "trust.json", port=port) as running:
        online = service(base, cache, TrustList.load(running.trust_list_path))
        assert await review_of(online, cache).send_pending() == 1
        assert await review_of(online, cache).send_pending() == 0
        await online.aclose()
        assert len(linkages(running)) == 1
    assert cache.review.pending() == []
