"""`$summary`: signed documents that verify against the trust list, tampering detected, consent and break-glass."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from lookup.domain.model import SignatureStatus
from lookup.trust.signatures import verify_document
from lookup.trust.trust_list import TrustList
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.clinical import has_consent, has_documents
from tests.sandbox.conftest import POPULATION, SEED

SHARE = 0.4
WITH_DOCS = [i for i in range(POPULATION) if has_documents(i, SEED, SHARE) and has_consent(i, SEED)]
NO_CONSENT = [i for i in range(POPULATION) if not has_consent(i, SEED)]
TYPES = {"60591-5", "34133-9", "57833-6", "57133-1", "56446-8"}


def _documents(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in summary["entry"] if e["resource"]["resourceType"] == "Bundle"]


def test_summary_documents_are_valid_fhir_and_signed(er: httpx.Client, sandbox: RunningSandbox) -> None:
    trust = TrustList.load(sandbox.trust_list_path)
    seen_types: set[str] = set()
    for index in WITH_DOCS[:12]:
        response = er.get(f"Patient/p{index}/$summary", headers={"X-Purpose-Of-Use": "ETREAT"})
        assert response.status_code == 200
        summary = response.json()
        assert summary["type"] == "collection"
        assert summary["entry"][0]["resource"]["id"] == f"p{index}"
        Bundle.model_validate(summary)
        for document in _documents(summary):
            Bundle.model_validate(document)
            composition = document["entry"][0]["resource"]
            assert composition["resourceType"] == "Composition"
            assert composition["subject"]["reference"] == f"Patient/p{index}"
            seen_types.add(composition["type"]["coding"][0]["code"])
            check = verify_document(document, trust)
            assert check.status is SignatureStatus.VALID, check.reason
            assert check.issuer and check.issuer.split()[0] == composition["custodian"]["identifier"]["value"]
    assert seen_types == TYPES


def test_lab_results_form_series(er: httpx.Client) -> None:
    values: dict[str, list[float]] = {}
    for document in _documents(er.get(f"Patient/p{WITH_DOCS[0]}/$summary").json()):
        for entry in document["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Observation" and "valueQuantity" in resource:
                values.setdefault(resource["code"]["coding"][0]["code"], []).append(resource["valueQuantity"]["value"])
    assert values and all(len(series) >= 2 for series in values.values())


def test_tampering_with_a_stored_document_is_detected(er: httpx.Client, sandbox: RunningSandbox) -> None:
    trust = TrustList.load(sandbox.trust_list_path)
    index = WITH_DOCS[1]
    documents = _documents(er.get(f"Patient/p{index}/$summary").json())
    target = next(d for d in documents if d["entry"][0]["resource"]["type"]["coding"][0]["code"] == "60591-5")
    changed = copy.deepcopy(target)
    blood = next(e["resource"] for e in changed["entry"] if e["resource"]["id"].endswith("-abo"))
    blood["valueCodeableConcept"]["text"] = "AB Rh-" if blood["valueCodeableConcept"]["text"] != "AB Rh-" else "O Rh+"
    assert sandbox.state.store.replace_document(target["id"], orjson.dumps(changed))
    served = _documents(er.get(f"Patient/p{index}/$summary").json())
    statuses = {d["id"]: verify_document(d, trust).status for d in served}
    assert statuses[target["id"]] is SignatureStatus.INVALID
    assert all(s is SignatureStatus.VALID for i, s in statuses.items() if i != target["id"])


def _released_summaries(admin: httpx.Client, index: int) -> list[dict[str, Any]]:
    """The server's audit of the summaries it released about one patient (read by the admin role)."""
    audit = admin.get("AuditEvent", params={"patient": f"Patient/p{index}", "_count": "50"}).json()
    Bundle.model_validate(audit)
    events = [e["resource"] for e in audit["entry"]]
    return [e for e in events if e["outcome"] == "0" and e["subtype"][0]["display"] == "Patient/$summary"]


def test_consent_required_then_break_glass_is_audited(er: httpx.Client, admin: httpx.Client) -> None:
    index = NO_CONSENT[0]
    consent = er.get("Consent", params={"patient": f"Patient/p{index}"}).json()["entry"][0]["resource"]
    Consent.model_validate(consent)
    assert consent["status"] == "inactive"
    refused = er.get(f"Patient/p{index}/$summary")
    assert refused.status_code == 403
    assert "consent-required" in refused.json()["issue"][0]["details"]["text"]
    no_reason = er.get(f"Patient/p{index}/$summary", headers={"X-Purpose-Of-Use": "BTG"})
    assert no_reason.status_code == 400
    opened = er.get(
        f"Patient/p{index}/$summary",
        headers={"X-Purpose-Of-Use": "BTG", "X-Break-Glass-Reason": "b%E1%BB%87nh%20nh%C3%A2n%20h%C3%B4n%20m%C3%AA"},
    )
    assert opened.status_code == 200
    assert er.get("AuditEvent", params={"patient": f"Patient/p{index}"}).status_code == 403  # the admin's alone
    events = _released_summaries(admin, index)
    assert len(events) == 1
    assert events[0]["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert events[0]["entity"][0]["detail"][0]["valueString"] == "bệnh nhân hôn mê"
    assert events[0]["agent"][0]["who"]["display"] == "demo-er"


def test_every_released_summary_is_audited(er: httpx.Client, admin: httpx.Client) -> None:
    index = WITH_DOCS[-1]
    for _ in range(2):
        assert er.get(f"Patient/p{index}/$summary").status_code == 200
    events = _released_summaries(admin, index)
    assert len(events) == 2
    assert {e["purposeOfEvent"][0]["coding"][0]["code"] for e in events} == {"ETREAT"}


def test_documents_by_standard_search_equal_the_summary(er: httpx.Client) -> None:
    index = WITH_DOCS[3]
    from_summary = _documents(er.get(f"Patient/p{index}/$summary").json())
    params = {"type": "document", "composition.subject": f"Patient/p{index}", "_count": "3"}
    page = er.get("Bundle", params=params).json()
    found = [e["resource"] for e in page["entry"]]
    link = next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None)
    while link:
        page = er.get(link).json()
        found.extend(e["resource"] for e in page["entry"])
        link = next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None)
    assert found == from_summary
    refused = er.get("Bundle", params={"type": "document", "composition.subject": f"Patient/p{NO_CONSENT[1]}"})
    assert refused.status_code == 403
