"""Temporary identities on the reference server: registered by the ER, found by their number, linked to the real
patient with what was recorded under them, the link undone exactly, its history as Provenance, the server's audit
naming the staff member; and the simulated insurance gateway's answers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.provenance import Provenance

from lookup.domain.temporary import TEMPORARY_SYSTEM, new_temporary_number, temporary_alias
from sandbox.server.runner import RunningSandbox
from testkit.server import STAFF_PINS, authorised_client
from tests.security.policy_world import eligibility_body, temporary_body

TODAY = dt.date.today()
BENEFIT_LEVEL = "http://fhir.hl7.org.vn/core/StructureDefinition/bhyt-benefit-level"


@pytest.fixture(scope="module")
def nurse(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with authorised_client(sandbox.base_url, "demo-er", staff_id="nurse-lan", staff_pin=STAFF_PINS["nurse-lan"]) as c:
        yield c


def _walk_in(reception: httpx.Client, patient_id: str) -> str:
    encounter_id = f"walkin-{uuid.uuid4().hex}"
    body = {
        "resourceType": "Encounter",
        "status": "arrived",
        "subject": {"reference": f"Patient/{patient_id}"},
        "serviceType": {"coding": [{"system": "urn:kiosk:department", "code": "K01"}]},
    }
    assert reception.put(f"Encounter/{encounter_id}", json=body).status_code == 201
    return encounter_id


def _subjects(reception: httpx.Client) -> dict[str, str]:
    answer = reception.get("Encounter", params={"date": TODAY.isoformat(), "_count": "100"})
    assert answer.status_code == 200
    return {e["resource"]["id"]: e["resource"]["subject"]["reference"] for e in answer.json().get("entry") or []}


def _found(client: httpx.Client, number: str) -> list[dict[str, object]]:
    answer = client.get("Patient", params={"identifier": f"{TEMPORARY_SYSTEM}|{number}"})
    assert answer.status_code == 200
    return [e["resource"] for e in answer.json().get("entry") or []]


def test_the_er_registers_a_temporary_patient_once(nurse: httpx.Client, er: httpx.Client) -> None:
    number = new_temporary_number()
    body = temporary_body(number, gender="male", birth_year="1980")
    body["photo"] = [{"contentType": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="}]
    first = nurse.post("Patient", json=body)
    again = er.post("Patient", json=body)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json() == again.json() and first.headers["location"].endswith(f"/Patient/{first.json()['id']}")
    patient = first.json()
    Patient.model_validate(patient)
    assert patient["identifier"] == [{"use": "temp", "system": TEMPORARY_SYSTEM, "value": number}]
    assert patient["name"][0]["text"] == temporary_alias(number) and patient["name"][0]["use"] == "temp"
    assert patient["active"] is True and patient["gender"] == "male" and patient["birthDate"] == "1980"
    assert patient["photo"] == body["photo"] and patient["extension"] == body["extension"]
    assert [p["id"] for p in _found(er, number)] == [patient["id"]]


def test_link_moves_the_walk_ins_and_unlink_restores_both_exactly(
    sandbox: RunningSandbox, nurse: httpx.Client, er: httpx.Client, reception: httpx.Client
) -> None:
    real_id = "p77"
    number = new_temporary_number()
    temporary = nurse.post("Patient", json=temporary_body(number)).json()
    real_before = er.get(f"Patient/{real_id}").json()
    theirs, own = _walk_in(reception, temporary["id"]), _walk_in(reception, real_id)
    parameter = {"name": "target", "valueReference": {"reference": f"Patient/{real_id}"}}
    target = {"resourceType": "Parameters", "parameter": [parameter]}

    linked = nurse.post(f"Patient/{temporary['id']}/$link-identity", json=target)
    assert linked.status_code == 200, linked.text
    assert linked.json()["active"] is False
    assert linked.json()["link"] == [{"other": {"reference": f"Patient/{real_id}"}, "type": "replaced-by"}]
    assert _found(er, number)[0]["link"] == linked.json()["link"]
    real = er.get(f"Patient/{real_id}").json()
    assert {"other": {"reference": f"Patient/{temporary['id']}"}, "type": "replaces"} in real["link"]
    assert _subjects(reception)[theirs] == _subjects(reception)[own] == f"Patient/{real_id}"

    undone = nurse.post(f"Patient/{temporary['id']}/$unlink-identity")
    assert undone.status_code == 200, undone.text
    assert undone.json() == temporary
    assert er.get(f"Patient/{real_id}").json() == real_before
    subjects = _subjects(reception)
    assert subjects[theirs] == f"Patient/{temporary['id']}" and subjects[own] == f"Patient/{real_id}"

    history = er.get("Provenance", params={"target": f"Patient/{temporary['id']}"})
    assert history.status_code == 200
    steps = [e["resource"] for e in history.json()["entry"]]
    for step in steps:
        Provenance.model_validate(step)
    assert [s["activity"]["coding"][0]["code"] for s in steps] == ["link", "unlink"]
    assert all(s["entity"][0]["what"]["reference"] == f"Patient/{real_id}" for s in steps)
    assert {"role": "revision", "what": {"reference": f"Encounter/{theirs}"}} in steps[0]["entity"]
    assert steps[0]["agent"][0]["who"]["identifier"]["value"] == "nurse-lan"

    events, _ = sandbox.state.store.audits_of(temporary["id"], 1000, 0)
    by_nurse = [
        e["subtype"][0]["display"]
        for e in events
        if any((a.get("who") or {}).get("identifier", {}).get("value") == "nurse-lan" for a in e["agent"])
    ]
    assert {"Patient create", "Patient/$link-identity", "Patient/$unlink-identity"} <= set(by_nurse)


def test_the_capability_statement_offers_identities_and_the_gateway(sandbox: RunningSandbox) -> None:
    body = httpx.get(f"{sandbox.base_url}/metadata").json()
    CapabilityStatement.model_validate(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert "create" in {i["code"] for i in resources["Patient"]["interaction"]}
    assert {"link-identity", "unlink-identity"} <= {o["name"] for o in resources["Patient"]["operation"]}
    assert {p["name"] for p in resources["Provenance"]["searchParam"]} == {"target"}
    assert [i["code"] for i in resources["CoverageEligibilityRequest"]["interaction"]] == ["create"]


@pytest.mark.parametrize(
    ("card", "inforce", "state"),
    [
        ("DN4010123456780", False, "expired"),
        ("DN4010123456781", True, "expiring"),
        ("DN4010123456782", False, "not-yet-valid"),
        ("DN4010123456789", True, "valid"),
        ("0123456785", True, "valid"),
    ],
)
def test_the_gateway_answers_from_the_card_number(
    reception: httpx.Client, card: str, inforce: bool, state: str
) -> None:
    answer = reception.post("CoverageEligibilityRequest", json=eligibility_body(card))
    assert answer.status_code == 200, answer.text
    response = answer.json()
    CoverageEligibilityResponse.model_validate(response)
    insurance = response["insurance"][0]
    assert response["outcome"] == "complete" and insurance["inforce"] is inforce
    start = dt.date.fromisoformat(insurance["benefitPeriod"]["start"])
    end = dt.date.fromisoformat(insurance["benefitPeriod"]["end"])
    seen = (
        "expired"
        if end < TODAY
        else "not-yet-valid"
        if start > TODAY
        else "expiring"
        if (end - TODAY).days <= 30
        else "valid"
    )
    assert seen == state
    level = next(e["valueInteger"] for e in insurance["extension"] if e["url"] == BENEFIT_LEVEL)
    assert level == (4 if card.startswith("DN4") else int(card[-2]) % 5 + 1)


def test_the_gateway_reads_the_card_of_a_patient_on_record(er: httpx.Client) -> None:
    body = eligibility_body("0000000000")
    body.pop("contained")
    body["insurance"] = [{"coverage": {"display": "the card on record"}}]
    body["patient"] = {"reference": "Patient/p42"}
    answer = er.post("CoverageEligibilityRequest", json=body)
    assert answer.status_code == 200, answer.text
    card = er.get("Patient/p42").json()["identifier"][1]["value"]
    assert answer.json()["insurance"][0]["coverage"]["identifier"]["value"] == card
    assert answer.json()["patient"] == {"reference": "Patient/p42"}
