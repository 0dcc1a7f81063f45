"""Temporary identities, tried as a careless network and a curious or mistaken client would: only the ER registers
or links; a "temporary" Patient carrying a real identifier, a second identifier, a mistyped number or a real name is
refused; a link is refused for a real patient, to a temporary one, twice, or to nobody; an undo of nothing is
refused; a registration sent many times at once is one Patient; the lobby asks the insurance gateway only with the
card number itself. Every refusal is audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from lookup.domain.temporary import TEMPORARY_SYSTEM, new_temporary_number
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import (
    CCCD_SYSTEM,
    Json,
    client_for,
    eligibility_body,
    people,
    server_events,
    temporary_body,
    world,
)
from tests.security.test_walk_in import walk_in


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "temporary") as running:
        yield running


def _target(patient_id: str) -> Json:
    target = {"name": "target", "valueReference": {"reference": f"Patient/{patient_id}"}}
    return {"resourceType": "Parameters", "parameter": [target]}


def _text(answer: httpx.Response) -> str:
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["details"]["text"])


def _registered(er: httpx.Client) -> str:
    answer = er.post("Patient", json=temporary_body(new_temporary_number()))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_only_the_er_registers_or_links(lobby: httpx.Client, reception: httpx.Client, er: httpx.Client) -> None:
    number = new_temporary_number()
    temporary = _registered(er)
    for client in (lobby, reception):
        assert client.post("Patient", json=temporary_body(number)).status_code == 403
        assert client.post(f"Patient/{temporary}/$link-identity", json=_target(people()[0].id)).status_code == 403
        assert client.post(f"Patient/{temporary}/$unlink-identity").status_code == 403
        assert client.get("Provenance", params={"target": f"Patient/{temporary}"}).status_code == 403
    assert er.get("Patient", params={"identifier": f"{TEMPORARY_SYSTEM}|{number}"}).json()["total"] == 0


def test_a_temporary_patient_carries_nothing_but_its_number(er: httpx.Client) -> None:
    number = new_temporary_number()
    body = temporary_body(number)
    wrong_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    refused: dict[str, Json] = {
        "a CCCD": body | {"identifier": [{"system": CCCD_SYSTEM, "value": people()[0].person.cccd}]},
        "two identifiers": body
        | {"identifier": [*body["identifier"], {"system": CCCD_SYSTEM, "value": people()[0].person.cccd}]},
        "a bad check digit": temporary_body(wrong_digit),
        "hyphens": body | {"identifier": [{"system": TEMPORARY_SYSTEM, "value": f"{number[:7]}-{number[7:]}"}]},
        "a real name": body | {"name": [{"family": "Nguyễn", "given": ["Văn", "An"]}]},
        "an address": body | {"address": [{"text": "12 Hàng Bài, Hà Nội"}]},
        "a full birth date": body | {"birthDate": "1980-05-17"},
        "a year in other digits": body | {"birthDate": "\u0661\u0669\u0668\u0660"},
        "a page as its photo": body | {"photo": [{"contentType": "text/html", "data": "PGI+aGk8L2I+"}]},
        "a photo not in base64": body | {"photo": [{"contentType": "image/jpeg", "data": "not base64!"}]},
        "no arrival": body | {"extension": []},
        "linked already": body | {"link": [{"other": {"reference": "Patient/p1"}, "type": "replaced-by"}]},
    }
    for why, attempt in refused.items():
        answer = er.post("Patient", json=attempt)
        assert answer.status_code == 400, why
        assert _text(answer), why
    assert "check digit" in _text(er.post("Patient", json=temporary_body(wrong_digit)))
    for value in (number, wrong_digit):
        found = er.get("Patient", params={"identifier": f"{TEMPORARY_SYSTEM}|{value}"}).json()
        assert found["total"] == 0, "a refused registration left a Patient"


def test_a_registration_sent_many_times_at_once_is_one_patient(er: httpx.Client) -> None:
    number = new_temporary_number()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: er.post("Patient", json=temporary_body(number)), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    found = er.get("Patient", params={"identifier": f"{TEMPORARY_SYSTEM}|{number}"}).json()
    assert found["total"] == 1
    other = er.post("Patient", json=temporary_body(number, gender="female"))
    assert other.status_code == 409 and "already holds" in _text(other)


def test_links_that_must_not_be_made_are_refused(sandbox: RunningSandbox, er: httpx.Client) -> None:
    real, other = people()[0].id, people()[1].id
    first, second = _registered(er), _registered(er)
    cases = [
        (f"Patient/{real}/$link-identity", _target(other), 400, "not a temporary identity"),
        (f"Patient/{first}/$link-identity", _target(second), 409, "itself a temporary"),
        (f"Patient/{first}/$link-identity", _target("nobody-here"), 404, "no patient"),
        ("Patient/nobody-here/$link-identity", _target(real), 404, "no patient"),
        (f"Patient/{first}/$link-identity", {"resourceType": "Parameters", "parameter": []}, 400, "target"),
        (f"Patient/{first}/$unlink-identity", None, 409, "not linked"),
    ]
    for path, body, status, says in cases:
        answer = er.post(path, json=body)
        assert answer.status_code == status, (path, answer.text)
        assert says in _text(answer), path
    assert er.post(f"Patient/{first}/$link-identity", json=_target(real)).status_code == 200
    with client_for(sandbox, "demo-reception") as reception:
        behind = reception.put(f"Encounter/walkin-{uuid.uuid4().hex}", json=walk_in(first))
    assert behind.status_code == 409 and "replaced" in _text(behind)
    twice = er.post(f"Patient/{first}/$link-identity", json=_target(other))
    assert twice.status_code == 409 and "already linked" in _text(twice)
    assert er.get(f"Patient/{other}").json().get("link") is None, "a refused link changed the other patient"
    assert er.post(f"Patient/{first}/$unlink-identity").status_code == 200
    assert er.post(f"Patient/{first}/$unlink-identity").status_code == 409
    refusals = [e for e in server_events(sandbox, first) if e["outcome"] == "4"]
    assert len(refusals) >= 4, "every refusal about the temporary patient is audited"


def test_the_lobby_asks_the_gateway_with_the_card_number_only(lobby: httpx.Client, admin: httpx.Client) -> None:
    card = people()[0].person.bhxh
    assert lobby.post("CoverageEligibilityRequest", json=eligibility_body(card)).status_code == 200
    by_reference = eligibility_body(card)
    by_reference.pop("contained")
    by_reference["insurance"] = [{"coverage": {"display": "the card on record"}}]
    by_reference["patient"] = {"reference": f"Patient/{people()[0].id}"}
    refused = lobby.post("CoverageEligibilityRequest", json=by_reference)
    assert refused.status_code == 403 and people()[0].person.full_name not in refused.text
    assert admin.post("CoverageEligibilityRequest", json=eligibility_body(card)).status_code == 403
    assert lobby.post("CoverageEligibilityRequest", json=eligibility_body("12345")).status_code == 400


def test_links_sent_at_once_make_one_link(er: httpx.Client) -> None:
    real = people()[2].id
    temporary = _registered(er)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: er.post(f"Patient/{temporary}/$link-identity", json=_target(real)), range(8)))
    # The same link again is the same answer (a retry after a lost one is not refused), and is made once.
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.content for a in answers}) == 1
    replaces = [entry for entry in er.get(f"Patient/{real}").json()["link"] if entry["type"] == "replaces"]
    assert replaces == [{"other": {"reference": f"Patient/{temporary}"}, "type": "replaces"}]
    history = er.get("Provenance", params={"target": f"Patient/{temporary}"}).json()
    assert [e["resource"]["activity"]["coding"][0]["code"] for e in history["entry"]] == ["link"]
