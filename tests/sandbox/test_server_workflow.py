"""Appointments today and check-in, referrals to a facility, the kiosk's own audit events."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle

from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.clinical import events, has_documents
from sandbox.synthetic.population import generate_people
from tests.sandbox.conftest import POPULATION, SEED

PEOPLE = list(generate_people(POPULATION, SEED))


def _with_appointment_today() -> list[str]:
    found: list[str] = []
    for person in PEOPLE:
        if has_documents(person.index, SEED, 0.4):
            plan = events(person.index, SEED, OLD_PROVINCES_BY_NAME[person.card_province].current_code)
            found.extend(a.id for a in plan.appointments if a.day == 0)
    return found


TODAY_APPOINTMENTS = _with_appointment_today()


def test_appointments_today_and_idempotent_check_in(lobby: httpx.Client) -> None:
    assert len(TODAY_APPOINTMENTS) >= 20
    appointment_id = TODAY_APPOINTMENTS[0]
    patient = "p" + appointment_id[1:].split("-")[0]
    today = dt.date.today().isoformat()
    bundle = lobby.get("Appointment", params={"patient": f"Patient/{patient}", "date": today}).json()
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    assert appointment_id in {r["id"] for r in resources}
    booked = next(r for r in resources if r["id"] == appointment_id)
    Appointment.model_validate(booked)
    assert booked["status"] == "booked" and booked["start"].startswith(today)
    first = lobby.put(f"Appointment/{appointment_id}", json=booked | {"status": "arrived"})
    again = lobby.put(f"Appointment/{appointment_id}", json=booked | {"status": "arrived"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["status"] == "arrived"
    assert lobby.get(f"Appointment/{appointment_id}").json()["status"] == "arrived"
    refused = lobby.put(f"Appointment/{appointment_id}", json=booked | {"status": "cancelled"})
    assert refused.status_code == 422


def test_referrals_to_a_facility(er: httpx.Client) -> None:
    params = {"performer": "Organization/01929", "status": "active", "_count": "5"}
    first = er.get("ServiceRequest", params=params).json()
    Bundle.model_validate(first)
    assert first["total"] > 5
    collected = [e["resource"] for e in first["entry"]]
    link = next((lk["url"] for lk in first["link"] if lk["relation"] == "next"), None)
    while link:
        page = er.get(link).json()
        collected.extend(e["resource"] for e in page["entry"])
        link = next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None)
    assert len(collected) == first["total"]
    assert all(r["status"] == "active" and r["performer"][0]["identifier"]["value"] == "01929" for r in collected)
    one = er.get(f"ServiceRequest/{collected[0]['id']}").json()
    assert one == collected[0]


def test_audit_event_put_is_idempotent(lobby: httpx.Client, sandbox: RunningSandbox) -> None:
    event_id = str(uuid.uuid4())
    event = {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2025-07-01T08:00:00Z",
        "agent": [{"who": {"display": "kiosk-lobby-1"}, "requestor": True}],
        "source": {"observer": {"display": "kiosk-lobby-1"}},
        "entity": [{"what": {"reference": "Patient/p3"}}],
    }
    first = lobby.put(f"AuditEvent/{event_id}", json=event)
    second = lobby.put(f"AuditEvent/{event_id}", json=event)
    assert (first.status_code, second.status_code) == (201, 200)
    assert sandbox.state.store.audits_of("p3", 100, 0)[1] == 1
    wrong = lobby.put(f"AuditEvent/{uuid.uuid4()}", json={"resourceType": "Patient"})
    assert wrong.status_code == 422
