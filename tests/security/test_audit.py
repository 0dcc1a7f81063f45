"""The audit trail cannot be forged, read back or flooded, and the server writes its own: every refusal, every
check-in, every clinical read and every identity lookup leaves an AuditEvent naming the client and the staff member
from the token."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator

import orjson
import pytest

from lookup.service.audit import audit_event
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import (
    RECEPTION_FACILITY,
    Json,
    agent_ids,
    booked_today,
    client_for,
    people,
    referred_to,
    server_events,
    world,
)

TODAY = dt.date.today().isoformat()
REASON = "bệnh nhân hôn mê, nghi ngộ độc"
SERVER_OBSERVER = "kiosk sandbox coordination server"
BTG = {"X-Purpose-Of-Use": "BTG"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "audit") as running:
        yield running


def _kiosk_event(client_id: str, patient_id: str, *, reason: str | None = None) -> Json:
    """An event as the kiosk's outbox sends it (the lookup client's own builder)."""
    return audit_event(
        action="break-glass" if reason else "lookup",
        result="success",
        client_id=client_id,
        mode="er",
        patient_id=patient_id,
        break_glass=reason is not None,
        reason=reason,
    )


def _server_written(events: list[Json]) -> list[Json]:
    """Events the server wrote itself (its observer), not a kiosk's trail."""
    return [e for e in events if e.get("source", {}).get("observer", {}).get("display") == SERVER_OBSERVER]


def test_the_lobby_cannot_claim_to_be_the_er(sandbox: RunningSandbox) -> None:
    patient = people()[0].id
    forged = _kiosk_event("demo-er", patient)
    forged["agent"].append({"who": {"display": "demo-er", "identifier": {"value": "demo-er"}}, "requestor": True})
    forged["source"] = {"observer": {"display": "demo-er"}}
    with client_for(sandbox, "demo-lobby") as lobby:
        assert lobby.put(f"AuditEvent/{forged['id']}", json=forged).status_code == 201
    stored = sandbox.state.store.audit(forged["id"])
    assert stored is not None
    assert "demo-lobby" in agent_ids(stored)
    assert "demo-er" not in orjson.dumps(stored).decode(), "the stored event still names the client it claimed"


def test_a_put_over_a_stored_event_echoes_nothing_and_changes_nothing(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=False)
    event = _kiosk_event("demo-er", person.id, reason=REASON)
    path = f"AuditEvent/{event['id']}"
    with client_for(sandbox, "demo-er") as er, client_for(sandbox, "demo-lobby") as lobby:
        first = er.put(path, json=event)
        retry = er.put(path, json=event)  # the outbox again, after a lost acknowledgement
        other = copy.deepcopy(event) | {"outcomeDesc": "lookup: not-found"}
        overwrite = er.put(path, json=other)
        prying = lobby.put(path, json={**event, "agent": [{"who": {"display": "x"}, "requestor": True}]})
    assert first.status_code == 201 and retry.status_code == 200, "a retry of the same event is delivered"
    assert overwrite.status_code == prying.status_code == 409
    for answer in (first, retry, overwrite, prying):
        assert REASON not in answer.text and answer.json()["resourceType"] == "OperationOutcome"
    stored = sandbox.state.store.audit(event["id"])
    assert stored is not None and stored["outcomeDesc"] == event["outcomeDesc"]


def test_oversized_events_are_refused(sandbox: RunningSandbox) -> None:
    patient = people()[0].id
    with client_for(sandbox, "demo-er") as er:
        for size in (20 * 1024, 20 * 1024 * 1024):
            event = _kiosk_event("demo-er", patient)
            event["outcomeDesc"] = "x" * size
            answer = er.put(f"AuditEvent/{event['id']}", json=event)
            assert answer.status_code == 413, size
            assert sandbox.state.store.audit(event["id"]) is None


def test_a_refusal_leaves_an_event_naming_client_and_staff(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=True, skip=1)
    with client_for(sandbox, "demo-reception", staff="clerk-hoa") as reception:
        assert reception.get(f"Patient/{person.id}/$summary").status_code == 403
    refusals = [e for e in _server_written(server_events(sandbox, person.id)) if e["outcome"] == "4"]
    assert len(refusals) == 1
    assert {"demo-reception", "clerk-hoa"} <= agent_ids(refusals[0])
    assert refusals[0]["entity"][0]["what"]["reference"] == f"Patient/{person.id}"


def test_consent_required_and_a_refused_break_glass_are_audited(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=False, skip=1)
    path = f"Patient/{person.id}/$summary"
    with client_for(sandbox, "demo-er", staff="doctor-minh") as er:
        assert er.get(path).status_code == 403
        assert er.get(path, headers=BTG | {"X-Break-Glass-Reason": "%E2%80%8B" * 9}).status_code == 400
        opened = er.get(path, headers=BTG | {"X-Break-Glass-Reason": "ngung%20tho%2C%20cap%20cuu"})
        assert opened.status_code == 200
    events = _server_written(server_events(sandbox, person.id))
    outcomes = sorted(e["outcome"] for e in events)
    assert outcomes == ["0", "4", "4"]
    glass = next(e for e in events if e["outcome"] == "0")
    assert glass["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert glass["entity"][0]["detail"][0]["valueString"] == "ngung tho, cap cuu"
    assert all({"demo-er", "doctor-minh"} <= agent_ids(e) for e in events)


def test_a_check_in_leaves_an_event_naming_client_and_staff(sandbox: RunningSandbox) -> None:
    person, appointment = booked_today(consent=False, skip=2)
    with client_for(sandbox, "demo-lobby", staff="clerk-hoa") as lobby:
        booked = lobby.get(f"Appointment/{appointment.id}").json()
        assert lobby.put(f"Appointment/{appointment.id}", json=booked | {"status": "arrived"}).status_code == 200
    updates = [e for e in _server_written(server_events(sandbox, person.id)) if e["action"] == "U"]
    assert len(updates) == 1 and updates[0]["outcome"] == "0"
    assert {"demo-lobby", "clerk-hoa"} <= agent_ids(updates[0])


def test_every_clinical_read_names_client_and_staff(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=True, skip=3)
    referred, referral = referred_to(RECEPTION_FACILITY, consent=True)
    reads = [
        f"Patient/{person.id}/$summary",
        f"Bundle?type=document&composition.subject=Patient/{person.id}",
        f"Appointment?patient=Patient/{person.id}&date={TODAY}",
        f"ServiceRequest?patient=Patient/{person.id}",
        f"Consent?patient=Patient/{person.id}",
    ]
    with client_for(sandbox, "demo-er", staff="nurse-lan") as er:
        for path in reads:
            assert er.get(path).status_code == 200, path
        assert er.get(f"ServiceRequest/{referral.id}").status_code == 200
    events = _server_written(server_events(sandbox, person.id))
    wanted = {"Patient/$summary", "Bundle search", "Appointment search", "Consent search"}
    if person.referrals:
        wanted.add("ServiceRequest search")
    assert wanted <= {e["subtype"][0]["display"] for e in events}
    assert all({"demo-er", "nurse-lan"} <= agent_ids(e) for e in events)
    staff = next(a for a in events[0]["agent"] if a["who"]["identifier"]["value"] == "nurse-lan")
    assert staff["requestor"] is True and staff["who"]["display"]
    referral_reads = _server_written(server_events(sandbox, referred.id))
    assert referral_reads and all({"demo-er", "nurse-lan"} <= agent_ids(e) for e in referral_reads)


def test_identity_lookups_are_audited(sandbox: RunningSandbox) -> None:
    person = people()[5]
    with client_for(sandbox, "demo-lobby") as lobby, client_for(sandbox, "demo-reception") as reception:
        assert lobby.get("Patient", params={"identifier": person.identifier}).status_code == 200
        assert reception.get(f"Patient/{person.id}").status_code == 200
    events = _server_written(server_events(sandbox, person.id))
    assert {"demo-lobby", "demo-reception"} <= set().union(*(agent_ids(e) for e in events))
    assert all(e["entity"][0]["what"]["reference"] == f"Patient/{person.id}" for e in events)
    assert person.person.cccd not in orjson.dumps(events).decode(), "the audit names the patient by reference only"


def test_a_kiosk_trail_event_is_not_read_back_by_its_kiosk(sandbox: RunningSandbox) -> None:
    event = _kiosk_event("demo-er", people()[6].id, reason=REASON)
    with client_for(sandbox, "demo-er") as er:
        assert er.put(f"AuditEvent/{event['id']}", json=event).status_code == 201
        assert er.get(f"AuditEvent/{event['id']}").status_code == 403
        assert er.get("AuditEvent", params={"_count": "100"}).status_code == 403
    with client_for(sandbox, "demo-admin", staff="auditor-an") as admin:
        kept = admin.get(f"AuditEvent/{event['id']}")
    assert kept.status_code == 200 and kept.json()["meta"]["tag"][0]["code"] == "client-trail"
