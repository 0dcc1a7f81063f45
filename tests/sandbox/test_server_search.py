"""Identifier search, plain search with paging, `$match`, and FHIR-valid output."""

from __future__ import annotations

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.population import generate_people
from tests.sandbox.conftest import POPULATION, SEED

PEOPLE = list(generate_people(POPULATION, SEED))
CCCD_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.CCCD)
BHYT_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.BHYT)


def _ids(bundle: dict[str, object]) -> list[str]:
    entries = bundle.get("entry") or []
    assert isinstance(entries, list)
    return [e["resource"]["id"] for e in entries]


def test_capability_statement(sandbox: RunningSandbox) -> None:
    body = httpx.get(f"{sandbox.base_url}/metadata").json()
    CapabilityStatement.model_validate(body)
    rest = body["rest"][0]
    assert {op["name"] for op in rest["operation"]} == {"match", "summary"}
    assert rest["security"]["extension"][0]["extension"][0]["valueUri"].endswith("/fhir/auth/token")


def test_identifier_search(er: httpx.Client) -> None:
    person = PEOPLE[42]
    found = er.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|{person.cccd}"}).json()
    Bundle.model_validate(found)
    assert _ids(found) == ["p42"]
    assert _ids(er.get("Patient", params={"identifier": f"{BHYT_SYSTEM}|{person.bhxh}"}).json()) == ["p42"]
    either = f"{CCCD_SYSTEM}|{PEOPLE[7].cccd},{CCCD_SYSTEM}|{person.cccd}"
    assert sorted(_ids(er.get("Patient", params={"identifier": either}).json())) == ["p42", "p7"]
    assert _ids(er.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|000000000000"}).json()) == []
    assert _ids(er.get("Patient", params={"identifier": f"urn:other|{person.cccd}"}).json()) == []


def test_plain_search_pages_through_everything(er: httpx.Client) -> None:
    nguyen = {p.patient_id for p in PEOPLE if p.family == "Nguyễn"}
    first = er.get("Patient", params={"family": "nguyen", "_count": "50"}).json()
    assert first["total"] == len(nguyen)
    seen = _ids(first)
    link = next((lk["url"] for lk in first["link"] if lk["relation"] == "next"), None)
    while link:
        page = er.get(link).json()
        seen.extend(_ids(page))
        link = next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None)
    assert set(seen) == nguyen and len(seen) == len(nguyen)


def test_plain_search_by_demographics(er: httpx.Client) -> None:
    person = PEOPLE[100]
    params = {
        "family": person.family,
        "given": person.given,
        "birthdate": person.birth_date.isoformat(),
        "gender": person.sex.value,
        "address-state": person.card_province,
    }
    assert "p100" in _ids(er.get("Patient", params=params).json())
    by_year = er.get("Patient", params={"given": person.given, "birthdate": str(person.birth_date.year)}).json()
    assert "p100" in _ids(by_year)
    bad = er.get("Patient", params={"birthdate": "31/12/1990"})
    assert bad.status_code == 400
    OperationOutcome.model_validate(bad.json())


def test_match_finds_the_person(er: httpx.Client, sandbox: RunningSandbox) -> None:
    assert sandbox.state.matching is not None and sandbox.state.matching.engine_ready
    person = PEOPLE[321]
    query = {
        "resourceType": "Patient",
        "name": [{"family": person.family, "given": [p for p in (person.middle, person.given) if p]}],
        "birthDate": person.birth_date.isoformat(),
        "gender": person.sex.value,
        "address": [{"state": person.card_province}],
    }
    body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": query},
                                                         {"name": "count", "valueInteger": 5}]}  # fmt: skip
    found = er.post("Patient/$match", json=body).json()
    Bundle.model_validate(found)
    top = found["entry"][0]
    assert top["resource"]["id"] == "p321"
    assert 0.0 <= top["search"]["score"] <= 1.0
    assert top["search"]["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/match-grade"
    assert top["search"]["extension"][0]["valueCode"] in {"certain", "probable"}
    scores = [e["search"]["score"] for e in found["entry"]]
    assert scores == sorted(scores, reverse=True)
    wrong = er.post("Patient/$match", json={"resourceType": "Patient"})
    assert wrong.status_code == 422


def test_unknown_patient_and_route(er: httpx.Client) -> None:
    missing = er.get("Patient/p99999999")
    assert missing.status_code == 404
    assert er.get("NoSuchThing").status_code == 404
    assert er.get("NoSuchThing").json()["resourceType"] == "OperationOutcome"
