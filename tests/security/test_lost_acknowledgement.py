"""A hostile network that lets a kiosk's message reach the server and then drops the answer (the acknowledgement lost
on the way back): for every kind of message (audit event, walk-in, registration of an unidentified patient, identity
link) the outbox keeps it as retrying, delivers it again, ends with it delivered and its receipt, and the server holds
exactly one of what it made. The reference server is then asked directly for a link and an undo repeated, as a
retry after a lost answer would: a link repeated to the same patient is the same answer, to another one is refused,
and an undo retried with its idempotency key is never applied twice, even after the identity was linked again."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lookup.domain.model import Sex
from lookup.domain.temporary import TEMPORARY_SYSTEM, UnknownArrival, new_temporary_number
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.transport.faults import FaultKind, FhirError
from lookup.trust.trust_list import TrustList
from offline_cache import DeliveryState, OfflineCache, OutboxItem
from sandbox.server.config import SandboxConfig
from sandbox.server.routes_identity import IDEMPOTENCY_EXTENSION
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.population import SyntheticPerson, person_at
from testkit.outbox import RecordingOutbox
from testkit.server import authorised_client
from tests.offline_cache.conftest import Clock
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy
from tests.security.policy_world import temporary_body

SEED = 17
ARRIVAL = UnknownArrival(sex=Sex.FEMALE, estimated_age=35, arrival=dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC))
CUT_SHORT = FhirError(FaultKind.TRUNCATED).describe()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    folder = tmp_path_factory.mktemp("lost-acknowledgement")
    config = SandboxConfig(db_path=folder / "sandbox.sqlite", population=60, seed=SEED, demo_clients=True)
    with start_sandbox(config, trust_list_path=folder / "trust.json") as running:
        yield running


@pytest.fixture
def proxy(sandbox: RunningSandbox) -> Iterator[FaultProxy]:
    with FaultProxy(f"http://127.0.0.1:{sandbox.port}") as running:
        yield running


class Kiosk:
    """A kiosk as the app wires it, through the proxy: its service, its encrypted cache and outbox, its clock."""

    def __init__(self, service: LookupService, cache: OfflineCache, outbox: RecordingOutbox, clock: Clock) -> None:
        self.service = service
        self.cache = cache
        self.outbox = outbox
        self.clock = clock

    def only(self, kind: str) -> OutboxItem:
        (item,) = self.cache.outbox.entries(kind=kind)
        return item


KioskFactory = Callable[[str], Kiosk]


@pytest.fixture
async def kiosk_as(sandbox: RunningSandbox, proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[KioskFactory]:
    made: list[Kiosk] = []

    def make(mode: str) -> Kiosk:
        client = f"demo-{mode}"
        clock = Clock(time.time())
        cache = OfflineCache.open(
            tmp_path / client, key_file=tmp_path / f"{client}.key", ttl_seconds=3600.0, clock=clock
        )
        outbox = RecordingOutbox(cache.outbox)
        # No retry inside the client: the outbox is what tries again.
        config = ServerConfig(
            base_url=proxy.base_url("/fhir"), client_id=client, client_secret=client, mode=mode, retries=0
        )
        service = LookupService(
            config,
            trust=TrustList.load(sandbox.trust_list_path),
            cache=cache.records,
            outbox=outbox,
            kiosk_name=f"{mode}-desk-1",
        )
        made.append(Kiosk(service, cache, outbox, clock))
        return made[-1]

    yield make
    for kiosk in made:
        await kiosk.service.aclose()
        kiosk.cache.close()


def person() -> SyntheticPerson:
    return person_at(4, SEED)


def _retrying_after_a_lost_answer(item: OutboxItem, kiosk: str) -> None:
    assert (item.delivery, item.attempts, item.reason, item.kiosk) == (DeliveryState.RETRYING, 1, CUT_SHORT, kiosk)
    assert item.server_id is None


def _delivered(item: OutboxItem, server_id: str) -> None:
    assert (item.delivery, item.attempts, item.reason, item.server_id) == (DeliveryState.DELIVERED, 2, None, server_id)
    assert item.server_time is not None and abs(item.server_time.timestamp() - time.time()) < 120


async def test_an_audit_event_whose_answer_is_lost_is_stored_once(
    kiosk_as: KioskFactory, proxy: FaultProxy, sandbox: RunningSandbox
) -> None:
    kiosk = kiosk_as("er")
    kiosk.service.writer.audit("open", "success", person().patient_id)
    (event_id,) = kiosk.outbox.audit_ids
    proxy.plan = FaultPlan(Fault.LOST, path_contains="/AuditEvent/", times=1)

    assert await kiosk.service.flush_outbox() == 0
    assert proxy.hits == 1 and sandbox.state.store.audit(event_id) is not None, "the server has it; its answer is lost"
    _retrying_after_a_lost_answer(kiosk.only("audit"), "er-desk-1")
    kiosk.clock.advance(3600)  # past the retry's backoff
    assert await kiosk.service.flush_outbox() == 1
    _delivered(kiosk.only("audit"), f"AuditEvent/{event_id}")
    events, _ = sandbox.state.store.audits_of(person().patient_id, 10_000, 0)
    assert [e["id"] for e in events].count(event_id) == 1


async def test_a_registration_whose_answer_is_lost_makes_one_patient(
    kiosk_as: KioskFactory, proxy: FaultProxy, sandbox: RunningSandbox
) -> None:
    kiosk = kiosk_as("er")
    proxy.plan = FaultPlan(Fault.LOST, path_contains="/fhir/Patient", times=1)
    made = await kiosk.service.register_unknown(ARRIVAL)
    assert made.status == "queued", made.message
    _retrying_after_a_lost_answer(kiosk.only("registration"), "er-desk-1")

    assert await kiosk.service.flush_outbox() == 1, "tried while the clerk waited, so due at the next delivery"
    _delivered(kiosk.only("registration"), f"Patient/{made.number}")
    with authorised_client(sandbox.base_url, "demo-er") as er:
        found = er.get("Patient", params={"identifier": f"{TEMPORARY_SYSTEM}|{made.number}"}).json()
    assert found["total"] == 1


async def test_a_walk_in_whose_answer_is_lost_is_one_visit(
    kiosk_as: KioskFactory, proxy: FaultProxy, sandbox: RunningSandbox
) -> None:
    kiosk = kiosk_as("reception")
    departments = await kiosk.service.departments()
    proxy.plan = FaultPlan(Fault.LOST, path_contains="/Encounter/", times=1)
    result = await kiosk.service.walk_in(person().patient_id, departments[0].code)
    assert result.status == "queued", result.message
    _retrying_after_a_lost_answer(kiosk.only("check-in"), "reception-desk-1")

    assert await kiosk.service.flush_outbox() >= 1
    _delivered(kiosk.only("check-in"), f"Encounter/walkin-{result.key}")
    with authorised_client(sandbox.base_url, "demo-reception") as reception:
        today = reception.get("Encounter", params={"date": dt.date.today().isoformat(), "_count": 100}).json()
    mine = [
        e["resource"]
        for e in today.get("entry", [])
        if e["resource"]["subject"]["reference"].endswith(f"/{person().patient_id}")
    ]
    assert [e["id"] for e in mine] == [f"walkin-{result.key}"], "one visit, one queue number"


async def test_an_identity_link_whose_answer_is_lost_is_made_once(
    kiosk_as: KioskFactory, proxy: FaultProxy, sandbox: RunningSandbox
) -> None:
    kiosk = kiosk_as("er")
    made = await kiosk.service.register_unknown(ARRIVAL)
    assert made.status == "created" and made.patient_id is not None
    real = person_at(7, SEED).patient_id
    proxy.plan = FaultPlan(Fault.LOST, path_contains="link-identity", times=1)
    result = await kiosk.service.link(made.number, real)
    assert result.status == "queued", result.message
    _retrying_after_a_lost_answer(kiosk.only("link"), "er-desk-1")
    store = sandbox.state.store
    assert len(store.provenances_of(f"Patient/{made.patient_id}")) == 1, "the server linked; its answer is lost"

    assert await kiosk.service.flush_outbox() >= 1
    _delivered(kiosk.only("link"), f"Patient/{made.patient_id}")
    (step,) = store.provenances_of(f"Patient/{made.patient_id}")
    assert step["activity"]["coding"][0]["code"] == "link"
    assert [e["url"] for e in step["extension"]] == [IDEMPOTENCY_EXTENSION]
    linked = store.patient(made.patient_id)
    assert linked is not None and linked.resource["link"] == [
        {"other": {"reference": f"Patient/{real}"}, "type": "replaced-by"}
    ]
    shown = await kiosk.service.link(made.number, real)  # the clerk confirms again, online: the same link
    assert shown.status == "linked" and len(store.provenances_of(f"Patient/{made.patient_id}")) == 1


def _target(patient_id: str) -> dict[str, Any]:
    target = {"name": "target", "valueReference": {"reference": f"Patient/{patient_id}"}}
    return {"resourceType": "Parameters", "parameter": [target]}


def test_the_server_never_applies_a_repeated_link_or_undo_twice(sandbox: RunningSandbox) -> None:
    real, other = person_at(10, SEED).patient_id, person_at(11, SEED).patient_id
    with authorised_client(sandbox.base_url, "demo-er") as er:
        created = er.post("Patient", json=temporary_body(new_temporary_number()))
        temporary = created.json()["id"]
        link, undo = {"Idempotency-Key": f"link:{uuid.uuid4()}"}, {"Idempotency-Key": f"unlink:{uuid.uuid4()}"}
        first = er.post(f"Patient/{temporary}/$link-identity", json=_target(real), headers=link)
        again = er.post(f"Patient/{temporary}/$link-identity", json=_target(real), headers=link)
        fresh_key = er.post(f"Patient/{temporary}/$link-identity", json=_target(real))
        assert [first.status_code, again.status_code, fresh_key.status_code] == [200, 200, 200]
        assert first.json() == again.json() == fresh_key.json()
        elsewhere = er.post(f"Patient/{temporary}/$link-identity", json=_target(other))
        assert elsewhere.status_code == 409 and "already linked" in elsewhere.text

        assert er.post(f"Patient/{temporary}/$unlink-identity", headers=undo).status_code == 200
        relinked = er.post(f"Patient/{temporary}/$link-identity", json=_target(real))
        assert relinked.status_code == 200
        # The undo's answer was lost and it is sent again after the identity was linked anew: not undone twice.
        retried = er.post(f"Patient/{temporary}/$unlink-identity", headers=undo)
        assert retried.status_code == 200 and retried.json()["link"][0]["other"]["reference"] == f"Patient/{real}"
        steps = er.get("Provenance", params={"target": f"Patient/{temporary}"}).json()
        assert [e["resource"]["activity"]["coding"][0]["code"] for e in steps["entry"]] == ["link", "unlink", "link"]
        odd = er.post(f"Patient/{temporary}/$unlink-identity", headers={"Idempotency-Key": "<b>a key</b>"})
        assert odd.status_code == 400 and "Idempotency-Key" in odd.text
