"""Who may see what, tried as an attacker would over real loopback HTTP, and the policy table checked row by row.

The lobby cannot list people (no paging, no broad search, a handful at most) nor read any clinical text, with or
without consent; reception reads only referrals addressed to its facility, without diagnoses unless the patient
consented, and never summaries, documents, break-glass or the audit log; only the admin reads the audit log; a
break-glass reason must say something; nothing is pulled in by `_include`/`_revinclude`. And every row of the
generated table in `sandbox/POLICY.md` is what the running server answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import sandbox as sandbox_package
from lookup.domain.model import LookupStatus
from lookup.domain.temporary import new_temporary_number
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import (
    RECEPTION_FACILITY,
    Json,
    booked_today,
    client_for,
    eligibility_body,
    people,
    referred_to,
    temporary_body,
    world,
)

TODAY = dt.date.today().isoformat()
BTG = {"X-Purpose-Of-Use": "BTG"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "policy") as running:
        yield running


def _entries(answer: httpx.Response) -> list[Json]:
    return [e["resource"] for e in answer.json().get("entry") or []]


def _has_next(answer: httpx.Response) -> bool:
    return any(link["relation"] == "next" for link in answer.json().get("link") or [])


def test_lobby_cannot_page_through_the_register(lobby: httpx.Client) -> None:
    broad: list[dict[str, str]] = [
        {"_count": "1000", "_offset": "0"},
        {"_count": "100", "_offset": "100"},
        {"_count": "1000"},
        {},
        {"birthdate": "ge1900-01-01", "_count": "100"},
        {"given": "a", "_count": "100"},
        {"family": "Nguyễn", "_count": "100"},
        {"family": people()[0].person.family, "given": people()[0].person.given, "birthdate": "1990"},
        {"identifier": people()[0].identifier, "_offset": "0"},
        {"_id": people()[0].id},
    ]
    for params in broad:
        answer = lobby.get("Patient", params=params)
        assert answer.status_code in (400, 403), params
        assert answer.json()["resourceType"] == "OperationOutcome", params
    # Many identifiers at once still show a handful at most, with no way to the next page.
    many = ",".join(p.identifier for p in people()[:12])
    answer = lobby.get("Patient", params={"identifier": many, "_count": "100"})
    assert answer.status_code == 200 and len(_entries(answer)) <= 3 and not _has_next(answer)


def test_lobby_finds_one_person_and_sees_who_they_are_not_where_they_live(lobby: httpx.Client) -> None:
    person = people()[1]
    found = _entries(lobby.get("Patient", params={"identifier": person.identifier}))
    assert [p["id"] for p in found] == [person.id]
    assert "telecom" not in found[0] and all(set(a) == {"state"} for a in found[0].get("address", []))
    by_details = lobby.get(
        "Patient",
        params={
            "family": person.person.family,
            "given": person.person.given,
            "birthdate": person.person.birth_date.isoformat(),
        },
    )
    assert by_details.status_code == 200 and person.id in {p["id"] for p in _entries(by_details)}


def _match_body(patient: Json, count: int = 10) -> Json:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": patient}, {"name": "count", "valueInteger": count}],
    }


def test_lobby_match_must_single_someone_out_and_answers_a_handful(lobby: httpx.Client) -> None:
    person = people()[2].person
    name = {"family": person.family, "given": [p for p in (person.middle, person.given) if p]}
    vague = lobby.post("Patient/$match", json=_match_body({"resourceType": "Patient", "name": [name]}, 50))
    assert vague.status_code == 400 and vague.json()["resourceType"] == "OperationOutcome"
    full = {"resourceType": "Patient", "name": [name], "birthDate": person.birth_date.isoformat()}
    answer = lobby.post("Patient/$match", json=_match_body(full, 50))
    assert answer.status_code == 200
    found = _entries(answer)
    assert 1 <= len(found) <= 3 and person.patient_id in {p["id"] for p in found}
    assert all("telecom" not in p for p in found)


def test_lobby_never_reads_clinical_text_with_or_without_consent(lobby: httpx.Client) -> None:
    for consent in (False, True):
        person, appointment = booked_today(consent=consent)
        diagnoses = {a.condition.display for a in person.appointments} | {r.condition.display for r in person.referrals}
        answer = lobby.get("Appointment", params={"patient": f"Patient/{person.id}", "date": TODAY})
        single = lobby.get(f"Appointment/{appointment.id}")
        assert answer.status_code == single.status_code == 200
        shown = [*_entries(answer), single.json()]
        assert appointment.id in {a["id"] for a in shown}
        for text in (answer.text, single.text):
            assert not any(d in text for d in diagnoses), "a diagnosis reached the lobby"
        for resource in shown:
            assert not {"description", "reasonCode", "reasonReference", "comment"} & set(resource)
            assert resource["start"] and resource["status"]
    person = people()[0]
    for path in (
        f"Patient/{person.id}/$summary",
        f"Bundle?type=document&composition.subject=Patient/{person.id}",
        f"ServiceRequest?patient=Patient/{person.id}",
        f"Consent?patient=Patient/{person.id}",
    ):
        assert lobby.get(path).status_code == 403, path


def test_reception_sees_its_facility_referrals_without_diagnoses_unless_consented(
    reception: httpx.Client,
) -> None:
    by_id = {p.id: p for p in people()}
    answer = reception.get("ServiceRequest", params={"_count": "100"})
    assert answer.status_code == 200
    found = _entries(answer)
    link = next((lk["url"] for lk in answer.json()["link"] if lk["relation"] == "next"), None)
    while link:
        page = reception.get(link)
        found.extend(_entries(page))
        link = next((lk["url"] for lk in page.json()["link"] if lk["relation"] == "next"), None)
    assert found and all(r["performer"][0]["identifier"]["value"] == RECEPTION_FACILITY for r in found)
    seen = {True: 0, False: 0}
    for referral in found:
        person = by_id[referral["subject"]["reference"].removeprefix("Patient/")]
        plan = next(r for r in person.referrals if r.id == referral["id"])
        seen[person.consent] += 1
        if person.consent:
            assert referral["reasonCode"][0]["text"] == plan.condition.display
        else:
            assert "reasonCode" not in referral and plan.condition.display not in str(referral)
    assert seen[True] and seen[False], "both kinds of patient are referred to the facility"
    assert reception.get("ServiceRequest", params={"performer": "Organization/79033"}).status_code == 403
    _, elsewhere = referred_to("79033", consent=True)
    assert reception.get(f"ServiceRequest/{elsewhere.id}").status_code == 403


def test_reception_reads_no_summary_no_documents_no_break_glass_no_audit_log(reception: httpx.Client) -> None:
    person, _ = booked_today(consent=True)
    reason = {"X-Break-Glass-Reason": "benh%20nhan%20hon%20me"}
    for path, headers in (
        (f"Patient/{person.id}/$summary", {}),
        (f"Patient/{person.id}/$summary", BTG | reason),
        (f"Bundle?type=document&composition.subject=Patient/{person.id}", {}),
        (f"AuditEvent?patient=Patient/{person.id}", {}),
        ("AuditEvent", {}),
        (f"Consent?patient=Patient/{person.id}", {}),
    ):
        answer = reception.get(path, headers=headers)
        assert answer.status_code == 403, path
        assert answer.json()["resourceType"] == "OperationOutcome"
    # What reception may read, it reads: identity and today's appointments (with the diagnosis, consent given).
    assert reception.get(f"Patient/{person.id}").status_code == 200
    today = reception.get("Appointment", params={"patient": f"Patient/{person.id}", "date": TODAY})
    assert today.status_code == 200 and any("description" in a for a in _entries(today))


def test_only_the_admin_reads_the_audit_log(
    sandbox: RunningSandbox, lobby: httpx.Client, reception: httpx.Client, er: httpx.Client
) -> None:
    person = people()[0]
    assert er.get(f"Patient/{person.id}/$summary").status_code in (200, 403)
    for client in (lobby, reception, er):
        assert client.get("AuditEvent", params={"patient": f"Patient/{person.id}"}).status_code == 403
    with client_for(sandbox, "demo-admin") as admin:
        answer = admin.get("AuditEvent", params={"patient": f"Patient/{person.id}"})
        assert answer.status_code == 200 and _entries(answer)
        assert admin.get(f"Patient/{person.id}").status_code == 403  # the admin reads no patient
        assert admin.get(f"Patient/{person.id}/$summary").status_code == 403


NO_REAL_CONTENT = [
    "%20" * 8,
    "%09%09%0A%0A%20%20",
    "%E2%80%8B" * 12,  # zero-width spaces
    "%E2%80%8B%E2%80%8C%E2%80%8D%EF%BB%BF%E2%81%A0" * 4,  # zero-width joiners, BOM, word joiner
    "%C2%A0%E3%80%80" * 6,  # no-break and ideographic spaces
    "........",
    "!!!???...---***",
    "a a a a a a a a a",
    "1111111111",
    "%F0%9F%9A%91%F0%9F%9A%91%F0%9F%9A%91%F0%9F%9A%91",  # four ambulances: symbols, not words
    "%FF%FE",
]


def test_break_glass_needs_a_reason_of_real_content(er: httpx.Client) -> None:
    person, _ = booked_today(consent=False)
    path = f"Patient/{person.id}/$summary"
    for reason in NO_REAL_CONTENT:
        answer = er.get(path, headers=BTG | {"X-Break-Glass-Reason": reason})
        assert answer.status_code == 400, reason
        assert "break-glass reason" in answer.json()["issue"][0]["details"]["text"]
    too_long = er.get(path, headers=BTG | {"X-Break-Glass-Reason": "bat tinh " * 60 + "!"})
    assert too_long.status_code == 400 and "500" in too_long.json()["issue"][0]["details"]["text"]
    opened = er.get(path, headers=BTG | {"X-Break-Glass-Reason": "b%E1%BB%87nh%20nh%C3%A2n%20h%C3%B4n%20m%C3%AA"})
    assert opened.status_code == 200


async def test_a_refused_reason_reaches_the_kiosk_in_the_servers_words(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=False, skip=1)
    config = ServerConfig(base_url=sandbox.base_url, client_id="demo-er", client_secret="demo-er", timeout_s=5.0)
    service = LookupService(config, trust=TrustList.load(sandbox.trust_list_path))
    try:
        refused = await service.break_glass(person.id, "........")
        opened = await service.break_glass(person.id, "bất tỉnh, không người nhà")
    finally:
        await service.aclose()
    assert refused.status is LookupStatus.CONSENT_REQUIRED and not refused.break_glass
    assert refused.patient is not None and refused.patient.id == person.id
    assert refused.message is not None and "letters or digits" in refused.message
    assert opened.status is LookupStatus.FOUND and opened.break_glass


def test_include_and_undeclared_parameters_are_refused(er: httpx.Client) -> None:
    person, _ = booked_today(consent=False)
    for path, params in (
        ("Patient", {"identifier": person.identifier, "_include": "Patient:general-practitioner"}),
        ("Appointment", {"patient": f"Patient/{person.id}", "_revinclude": "ServiceRequest:subject"}),
        ("ServiceRequest", {"performer": "Organization/01929", "_include:iterate": "ServiceRequest:subject"}),
        ("Patient", {"identifier": person.identifier, "given:contains": "a"}),
    ):
        answer = er.get(path, params=params)
        assert answer.status_code == 400, params
        assert answer.json()["resourceType"] == "OperationOutcome"


# -- the generated table -----------------------------------------------------------------------------------------


def test_the_policy_document_is_generated_from_the_policy() -> None:
    from sandbox.server.policy import policy_markdown

    document = Path(sandbox_package.__file__).parent / "POLICY.md"
    assert document.read_text(encoding="utf-8") == policy_markdown(), (
        "regenerate it: python -m sandbox.server.policy > sandbox/POLICY.md"
    )


def _audit_body() -> Json:
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2025-07-01T08:00:00Z",
        "agent": [{"who": {"display": "kiosk"}, "requestor": True}],
        "source": {"observer": {"display": "kiosk"}},
    }


def _linkage_body(source: str, alternate: str) -> Json:
    return {
        "resourceType": "Linkage",
        "author": {"identifier": {"system": "urn:kiosk:staff", "value": "nurse-lan"}},
        "item": [
            {"type": "source", "resource": {"reference": f"Patient/{source}"}},
            {"type": "alternate", "resource": {"reference": f"Patient/{alternate}"}},
        ],
    }


def test_every_row_of_the_policy_table_is_what_the_server_answers(sandbox: RunningSandbox, er: httpx.Client) -> None:
    from sandbox.server.auth import Role
    from sandbox.server.policy import ROUTES, expected_status

    person, appointment = booked_today(consent=True, skip=2)
    _, referral = referred_to(RECEPTION_FACILITY, consent=True)
    existing = str(uuid.uuid4())
    assert er.put(f"AuditEvent/{existing}", json=_audit_body()).status_code == 201
    temporary = er.post("Patient", json=temporary_body(new_temporary_number()))
    assert temporary.status_code == 201, temporary.text
    p = person.person
    bodies: dict[str, Any] = {
        "Patient/TMP": {
            "resourceType": "Parameters",
            "parameter": [{"name": "target", "valueReference": {"reference": f"Patient/{person.id}"}}],
        },
        "CoverageEligibilityRequest": eligibility_body("DN4010123456789"),
        "Patient/$match": _match_body(
            {
                "resourceType": "Patient",
                "name": [{"family": p.family, "given": [n for n in (p.middle, p.given) if n]}],
                "birthDate": p.birth_date.isoformat(),
            }
        ),
        "Appointment/": {"resourceType": "Appointment", "status": "arrived"},
        "AuditEvent/": _audit_body(),
        "Encounter/": {
            "resourceType": "Encounter",
            "status": "arrived",
            "subject": {"reference": f"Patient/{person.id}"},
            "serviceType": {"coding": [{"system": "urn:kiosk:department", "code": "K01"}]},
        },
    }
    everyone = [p.id for p in people()]
    pairs = iter(zip(everyone[::2], everyone[1::2], strict=False))  # a new pair for each role: the first is 201
    wrong: list[str] = []
    for role in Role:
        with client_for(sandbox, f"demo-{role.value}") as client:
            for route in ROUTES:
                method, _, target = route.request.partition(" ")
                filled = target.format(
                    identifier=person.identifier,
                    patient=person.id,
                    today=TODAY,
                    appointment=appointment.id,
                    facility=RECEPTION_FACILITY,
                    referral=referral.id,
                    new_event=uuid.uuid4(),
                    event=existing,
                    temporary=temporary.json()["id"],
                )
                path, _, query = filled.partition("?")
                body = next((b for prefix, b in bodies.items() if path.startswith(prefix)), None)
                if path == "Patient":
                    body = temporary_body(new_temporary_number())
                if path == "Linkage":
                    body = _linkage_body(*next(pairs))
                params = httpx.QueryParams(dict(parse_qsl(query)))
                answer = client.request(method, path, params=params, json=body if method in ("POST", "PUT") else None)
                expected = expected_status(role, route)
                if answer.status_code != expected:
                    wrong.append(f"{role.value} {route.request}: {answer.status_code}, the table says {expected}")
    assert wrong == []
