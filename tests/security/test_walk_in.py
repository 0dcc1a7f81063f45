"""Walk-ins, tried as a careless network and a curious client would: a retried walk-in is one visit with one queue
number (over HTTP and through the kiosk's service with its idempotency key); the lobby cannot list anyone's
walk-ins nor record a chief complaint; the ER cannot create walk-ins; reception sees a walk-in's complaint only
for a patient who consented."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest

from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import Json, booked_today, world

TODAY = dt.date.today().isoformat()
QUEUE = "urn:kiosk:queue-number"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "walk-in") as running:
        yield running


def walk_in(patient_id: str, department: str = "K02", complaint: str | None = None) -> Json:
    body: Json = {
        "resourceType": "Encounter",
        "status": "arrived",
        "subject": {"reference": f"Patient/{patient_id}"},
        "serviceType": {"coding": [{"system": "urn:kiosk:department", "code": department}]},
    }
    if complaint is not None:
        body["reasonCode"] = [{"coding": [{"system": "urn:kiosk:chief-complaint", "code": complaint}]}]
    return body


def queue_number(encounter: Json) -> str:
    return str(next(i["value"] for i in encounter["identifier"] if i["system"] == QUEUE))


def listed(reception: httpx.Client) -> list[Json]:
    answer = reception.get("Encounter", params={"date": TODAY, "_count": "200"})
    assert answer.status_code == 200, answer.text
    return [e["resource"] for e in answer.json().get("entry") or []]


def test_a_retried_walk_in_is_one_visit_with_one_queue_number(reception: httpx.Client) -> None:
    person, _ = booked_today(consent=True, skip=3)
    path = f"Encounter/walkin-{uuid.uuid4().hex}"
    first = reception.put(path, json=walk_in(person.id, complaint="fever"))
    again = reception.put(path, json=walk_in(person.id, complaint="fever"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert queue_number(first.json()) == queue_number(again.json())
    assert queue_number(first.json()).startswith("K02-")
    assert first.json()["location"][0]["location"]["display"].startswith("Phòng")
    assert [e["id"] for e in listed(reception)].count(path.split("/")[1]) == 1
    stranger, _ = booked_today(consent=True, skip=4)
    assert reception.put(path, json=walk_in(stranger.id)).status_code == 409


async def test_the_kiosk_retries_a_walk_in_under_one_key(sandbox: RunningSandbox, reception: httpx.Client) -> None:
    person, _ = booked_today(consent=True, skip=5)
    config = ServerConfig(
        base_url=sandbox.base_url, client_id="demo-reception", client_secret="demo-reception", timeout_s=5.0
    )
    service = LookupService(config, trust=TrustList.load(sandbox.trust_list_path))
    key = uuid.uuid4().hex
    try:
        first = await service.walk_in(person.id, "K03", "pain", key=key)
        retry = await service.walk_in(person.id, "K03", "pain", key=key)
    finally:
        await service.aclose()
    assert first.status == retry.status == "checked-in"
    assert first.ticket is not None and retry.ticket == first.ticket
    assert first.ticket.queue_number.startswith("K03-") and first.ticket.room
    assert first.ticket.expires is not None and first.ticket.expires.date() == dt.date.today()
    mine = [e for e in listed(reception) if e["subject"]["reference"] == f"Patient/{person.id}"]
    assert len(mine) == 1, "a retried walk-in made two visits"


def test_the_lobby_cannot_list_walk_ins_nor_record_a_complaint(lobby: httpx.Client) -> None:
    person, _ = booked_today(consent=True, skip=6)
    assert lobby.get("Encounter", params={"date": TODAY}).status_code == 403
    with_complaint = lobby.put(f"Encounter/walkin-{uuid.uuid4().hex}", json=walk_in(person.id, complaint="cough"))
    assert with_complaint.status_code == 403
    plain = lobby.put(f"Encounter/walkin-{uuid.uuid4().hex}", json=walk_in(person.id, "K01"))
    assert plain.status_code == 201 and queue_number(plain.json()).startswith("K01-")
    assert "reasonCode" not in plain.json()


def test_the_er_cannot_create_or_list_walk_ins(er: httpx.Client) -> None:
    person, _ = booked_today(consent=True, skip=7)
    assert er.put(f"Encounter/walkin-{uuid.uuid4().hex}", json=walk_in(person.id)).status_code == 403
    assert er.get("Encounter", params={"date": TODAY}).status_code == 403


def test_reception_sees_a_complaint_only_with_consent(reception: httpx.Client) -> None:
    refusing, _ = booked_today(consent=False, skip=1)
    created = reception.put(f"Encounter/walkin-{uuid.uuid4().hex}", json=walk_in(refusing.id, complaint="injury"))
    assert created.status_code == 201
    shown = next(e for e in listed(reception) if e["id"] == created.json()["id"])
    assert "reasonCode" not in shown


def test_a_checked_in_appointment_gets_a_queue_number_and_a_room(reception: httpx.Client) -> None:
    _, appointment = booked_today(consent=True, skip=8)
    answer = reception.put(f"Appointment/{appointment.id}", json={"resourceType": "Appointment", "status": "arrived"})
    assert answer.status_code == 200
    arrived = answer.json()
    assert queue_number(arrived)[:3] in {"K01", "K02", "K03", "K04", "K05"}
    rooms = [
        p["actor"]["display"] for p in arrived["participant"] if p["actor"].get("reference", "").startswith("Location/")
    ]
    assert rooms and rooms[0].startswith("Phòng")
