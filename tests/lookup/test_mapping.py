"""FHIR JSON -> domain models, on the public IPS example and on resources written from the FHIR R4 spec."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from lookup.domain.model import Demographics, DocumentType, MatchGrade, Sex, SignatureCheck, SignatureStatus
from lookup.fhir.bundles import match_entries
from lookup.fhir.capabilities import parse_capability_statement
from lookup.fhir.documents import split_summary, summarize
from lookup.fhir.patient import demographics_of, patient_record, patient_resource

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "fhir"


def ips() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "IPS_IG-bundle-01.json").read_text(encoding="utf-8"))
    return data


def test_ips_document_becomes_summary_sections_with_provenance() -> None:
    bundle = ips()
    resource, documents = split_summary(bundle)
    assert resource is not None
    patient = patient_record(resource)
    assert patient is not None and patient.id == "2b90dd2b-2dab-4c75-9bb9-a355e07401e8"
    assert patient.demographics.sex is Sex.FEMALE and patient.demographics.birth_date == dt.date(1972, 5, 1)
    assert (patient.demographics.family, patient.demographics.given) == ("DeLarosa", "Martha")
    check = SignatureCheck(status=SignatureStatus.UNSIGNED)
    summary = summarize(patient, [(documents[0], check)])
    assert len(summary.documents) == 1
    doc = summary.documents[0]
    assert doc.type is DocumentType.PATIENT_SUMMARY
    assert doc.date == dt.date(2017, 12, 11)
    assert doc.facility_name  # the custodian Organization, resolved inside the bundle
    assert len(summary.allergies) == 2
    assert len(summary.medications) == 2
    assert len(summary.problems) == 2
    assert [o.value for o in summary.results if o.unit] == [7.5]
    assert all(o.value is not None or o.value_text for o in summary.results), "panels without a value are left out"
    assert summary.blood_type is not None and summary.blood_type.text == "Blood group A Rh(D) positive"
    assert all(item.provenance.document_type is DocumentType.PATIENT_SUMMARY for item in summary.allergies)
    assert all(item.provenance.signature is SignatureStatus.UNSIGNED for item in summary.medications)
    assert any("anastrozole" in m.text for m in summary.medications), "Medication resolved by reference"


def test_patient_mapping_reads_vietnamese_names_partial_dates_and_skips_bad_identifiers() -> None:
    resource = {
        "resourceType": "Patient",
        "id": "p42",
        "identifier": [
            {"system": "http://fhir.hl7.org.vn/core/sid/cccd", "value": "001090012345"},
            {"system": "http://fhir.hl7.org.vn/core/sid/cccd", "value": "12"},  # malformed: dropped
            {"system": "urn:oid:1.2.3", "value": "X-1"},
        ],
        "name": [{"use": "official", "family": "Trần", "given": ["Văn", "Minh"]}],
        "birthDate": "1985",
        "gender": "male",
        "telecom": [{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "0912 345 678"}],
        "address": [{"line": ["5 Lê Lợi"], "city": "Huế", "state": "Thành phố Huế"}],
    }
    record = patient_record(resource)
    assert record is not None
    assert [i.value for i in record.identifiers] == ["001090012345", "X-1"]
    d = record.demographics
    assert (d.family, d.middle, d.given) == ("Trần", "Văn", "Minh")
    assert d.birth_date is None and d.birth_year == 1985
    assert d.phone == "0912 345 678" and d.province == "Thành phố Huế"
    assert d.address == "5 Lê Lợi, Huế, Thành phố Huế"
    assert patient_record({"resourceType": "Patient", "id": "bad id!"}) is None
    assert demographics_of({"resourceType": "Patient", "birthDate": "nonsense"}) == Demographics()


def test_match_request_and_answer_follow_the_fhir_shapes() -> None:
    query = Demographics(family="Lê", middle="Thị", given="Hoa", birth_year=1990, sex=Sex.FEMALE, province="Hà Nội")
    resource = patient_resource(query)
    assert resource["name"] == [{"use": "official", "family": "Lê", "given": ["Thị", "Hoa"]}]
    assert resource["birthDate"] == "1990" and resource["address"] == [{"state": "Hà Nội"}]
    answer = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "id": "p1"},
                "search": {
                    "mode": "match",
                    "score": 0.97,
                    "extension": [
                        {"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": "certain"}
                    ],
                },
            },
            {"resource": {"resourceType": "Patient", "id": "p2"}, "search": {"score": 3}},
        ],
    }
    found = match_entries(answer)
    assert found[0][1:] == (0.97, MatchGrade.CERTAIN)
    assert found[1][1:] == (None, None)  # a score outside 0..1 is not trusted


def test_capability_statement_operations_and_token_endpoint() -> None:
    doc = {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": "https://auth.example/token"}],
                        }
                    ]
                },
                "resource": [{"type": "Patient", "operation": [{"name": "match", "definition": "x"}]}],
            }
        ],
    }
    features = parse_capability_statement(doc)
    assert features.described and features.match is True and features.summary is False
    assert features.token_url == "https://auth.example/token"
    unknown = parse_capability_statement({"resourceType": "OperationOutcome"})
    assert not unknown.described and unknown.match is None and unknown.supports_resource("Bundle")
