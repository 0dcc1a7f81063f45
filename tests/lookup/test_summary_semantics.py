"""What a summary says is clinically true: each section's completeness from FHIR's own signals, current medication
reconciled with active e-prescriptions, allergies by criticality with their reaction, critical facts apart from
allergies, drug-allergy alerts, lab ranges and flags, encounters newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lookup.domain.model import (
    SUMMARY_SECTIONS,
    PatientRecord,
    PatientSummary,
    SectionState,
    SignatureCheck,
    SignatureStatus,
)
from lookup.fhir.alerts import drug_classes
from lookup.fhir.documents import summarize

TODAY = dt.date(2026, 3, 14)
SOMEONE = PatientRecord(id="p1")
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
Json = dict[str, Any]


def document(*resources: Json, sections: list[Json] | None = None) -> Json:
    composition: Json = {
        "resourceType": "Composition",
        "id": "c1",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "60591-5"}]},
        "subject": {"reference": "Patient/p1"},
        "date": "2026-03-01",
        "custodian": {"display": "Bệnh viện Bạch Mai"},
        "title": "Sổ sức khỏe",
    }
    if sections is not None:
        composition["section"] = sections
    entries = [composition, *resources]
    return {
        "resourceType": "Bundle",
        "id": "d1",
        "type": "document",
        "entry": [{"fullUrl": f"urn:uuid:{n}", "resource": r} for n, r in enumerate(entries)],
    }


def summary_of(*resources: Json, sections: list[Json] | None = None, **options: Any) -> PatientSummary:
    check = SignatureCheck(status=SignatureStatus.VALID)
    return summarize(SOMEONE, [(document(*resources, sections=sections), check)], today=TODAY, **options)


def empty_section(code: str, reason: str) -> Json:
    return {
        "title": "Dị ứng",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "emptyReason": {"coding": [{"system": EMPTY_REASON, "code": reason}]},
    }


def allergy(name: str, code: str | None = None, **extra: Any) -> Json:
    coding = [{"system": SNOMED, "code": code, "display": name}] if code else []
    return {"resourceType": "AllergyIntolerance", "code": {"coding": coding, "text": name}, **extra}


def prescription(name: str, *, status: str = "active", authored: str = "2026-03-01", days: int | None = 90) -> Json:
    resource: Json = {
        "resourceType": "MedicationRequest",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"text": name},
        "authoredOn": authored,
    }
    if days is not None:
        resource["dispenseRequest"] = {"expectedSupplyDuration": {"value": days, "code": "d"}}
    return resource


def test_every_section_has_a_state_and_nothing_received_is_no_information() -> None:
    summary = summary_of()
    assert set(summary.completeness) == set(SUMMARY_SECTIONS)
    assert all(state is SectionState.NO_INFORMATION for state in summary.completeness.values())


@pytest.mark.parametrize(
    ("reason", "state"),
    [
        ("nilknown", SectionState.NONE_KNOWN),
        ("withheld", SectionState.NOT_SHARED),
        ("notasked", SectionState.NO_INFORMATION),
        ("unavailable", SectionState.NO_INFORMATION),
        ("notstarted", SectionState.NO_INFORMATION),
    ],
)
def test_a_sections_empty_reason_is_its_state(reason: str, state: SectionState) -> None:
    summary = summary_of(sections=[empty_section("48765-2", reason)])
    assert summary.completeness["allergies"] is state
    assert summary.completeness["problems"] is SectionState.NO_INFORMATION


@pytest.mark.parametrize("code", ["716186003", "409137002", "428607008", "429625007"])
def test_a_no_known_allergy_entry_is_none_known_and_not_an_allergy(code: str) -> None:
    summary = summary_of(allergy("No known allergy", code))
    assert summary.allergies == ()
    assert summary.completeness["allergies"] is SectionState.NONE_KNOWN


def test_no_current_problems_is_none_known() -> None:
    condition = {"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "160245001"}]}}
    summary = summary_of(condition)
    assert summary.problems == ()
    assert summary.completeness["problems"] is SectionState.NONE_KNOWN


def test_an_allergy_recorded_beside_no_known_allergy_is_recorded() -> None:
    summary = summary_of(allergy("No known allergy", "716186003"), allergy("Penicillin", "764146007"))
    assert [a.text for a in summary.allergies] == ["Penicillin"]
    assert summary.completeness["allergies"] is SectionState.RECORDED


def test_an_operation_outcome_suppressing_a_type_is_not_shared() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "suppressed", "expression": ["AllergyIntolerance"]}],
    }
    summary = summarize(SOMEONE, [], [outcome], today=TODAY)
    assert summary.completeness["allergies"] is SectionState.NOT_SHARED
    assert summary.completeness["problems"] is SectionState.NO_INFORMATION


def test_what_the_scope_does_not_receive_is_not_shared() -> None:
    summary = summarize(SOMEONE, [], [], shared=("referrals",), today=TODAY)
    assert summary.completeness["referrals"] is SectionState.NO_INFORMATION
    assert summary.completeness["allergies"] is SectionState.NOT_SHARED
    assert summary.completeness["medications"] is SectionState.NOT_SHARED


def test_withheld_in_one_document_is_not_hidden_by_nilknown_in_another() -> None:
    check = SignatureCheck(status=SignatureStatus.VALID)
    documents = [
        (document(sections=[empty_section("48765-2", "nilknown")]), check),
        (document(sections=[empty_section("48765-2", "withheld")]), check),
    ]
    summary = summarize(SOMEONE, documents, today=TODAY)
    assert summary.completeness["allergies"] is SectionState.NOT_SHARED


def test_active_prescriptions_are_current_medication() -> None:
    summary = summary_of(
        prescription("Losartan 50 mg"),
        prescription("Metformin 500 mg", days=None),
        prescription("Amoxicillin 500 mg", authored="2025-01-01", days=7),
        prescription("Omeprazol 20 mg", status="completed"),
    )
    current = {m.text: m.from_prescription for m in summary.medications}
    assert current == {"Losartan 50 mg": True, "Metformin 500 mg": True}
    assert summary.completeness["medications"] is SectionState.RECORDED
    assert len(summary.prescriptions) == 4


def test_a_statement_is_not_repeated_by_its_prescription() -> None:
    statement = {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"text": "Losartan 50 mg"}}
    summary = summary_of(statement, prescription("Losartan 50 mg"))
    assert [(m.text, m.from_prescription) for m in summary.medications] == [("Losartan 50 mg", False)]


def test_allergies_by_criticality_with_their_reaction() -> None:
    summary = summary_of(
        allergy("Aspirin", criticality="low"),
        allergy(
            "Penicillin",
            criticality="high",
            reaction=[
                {"manifestation": [{"text": "Phản vệ"}], "severity": "severe"},
                {"manifestation": [{"text": "Khó thở"}], "severity": "moderate"},
            ],
        ),
        allergy("Hải sản"),
    )
    assert [a.text for a in summary.allergies] == ["Penicillin", "Hải sản", "Aspirin"]
    first = summary.allergies[0]
    assert (first.criticality, first.reaction, first.reaction_severity) == ("high", "Phản vệ, Khó thở", "severe")


def test_an_entered_in_error_allergy_is_left_out() -> None:
    wrong = allergy("Penicillin", verificationStatus={"coding": [{"code": "entered-in-error"}]})
    assert summary_of(wrong).allergies == ()


def test_blood_type_and_critical_facts_are_a_block_of_their_own() -> None:
    blood = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "882-1"}]},
        "valueCodeableConcept": {"text": "O Rh+"},
    }
    pregnancy = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "valueCodeableConcept": {"text": "Đang mang thai"},
    }
    device = {"resourceType": "Device", "deviceName": [{"name": "Máy tạo nhịp tim", "type": "user-friendly-name"}]}
    flag = {"resourceType": "Flag", "status": "active", "code": {"text": "Cách ly hô hấp"}}
    inactive = {"resourceType": "Flag", "status": "inactive", "code": {"text": "Cách ly cũ"}}
    dnr = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"code": "adr"}]},
        "category": [{"text": "Không hồi sinh tim phổi (DNR)"}],
    }
    summary = summary_of(blood, pregnancy, device, flag, inactive, dnr)
    facts = [(f.kind, f.text) for f in summary.critical_facts]
    assert facts == [
        ("blood-type", "O Rh+"),
        ("pregnancy", "Đang mang thai"),
        ("device", "Máy tạo nhịp tim"),
        ("flag", "Cách ly hô hấp"),
        ("advance-directive", "Không hồi sinh tim phổi (DNR)"),
    ]
    assert summary.allergies == () and summary.results == ()
    assert summary.completeness["critical_facts"] is SectionState.RECORDED
    assert summary.completeness["allergies"] is SectionState.NO_INFORMATION


def lab(value: float, *, interpretation: str | None = None, low: float | None = 62, high: float = 106) -> Json:
    ranged: Json = {"high": {"value": high}} | ({"low": {"value": low}} if low is not None else {})
    resource: Json = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "14682-9"}], "text": "Creatinin"},
        "valueQuantity": {"value": value, "unit": "µmol/L"},
        "effectiveDateTime": "2026-03-01",
        "referenceRange": [ranged],
    }
    if interpretation:
        resource["interpretation"] = [{"coding": [{"code": interpretation}]}]
    return resource


@pytest.mark.parametrize(
    ("value", "interpretation", "flag"),
    [(208.5, None, "H"), (40.0, None, "L"), (80.0, None, None), (400.0, "HH", "HH"), (80.0, "N", None)],
)
def test_labs_carry_their_range_and_flag(value: float, interpretation: str | None, flag: str | None) -> None:
    result = summary_of(lab(value, interpretation=interpretation)).results[0]
    assert (result.low, result.high, result.flag) == (62, 106, flag)


def test_encounters_newest_first() -> None:
    encounters = [
        {"resourceType": "Encounter", "class": {"code": "AMB"}, "period": {"start": day}}
        for day in ("2025-01-02", "2026-02-01", "2025-06-30")
    ]
    days = [e.date for e in summary_of(*encounters).encounters]
    assert days == [dt.date(2026, 2, 1), dt.date(2025, 6, 30), dt.date(2025, 1, 2)]


def test_an_aspirin_allergy_with_an_aspirin_prescription_is_an_alert() -> None:
    summary = summary_of(allergy("Aspirin", "387458008"), prescription("Aspirin 81 mg"))
    assert [(a.kind, a.allergy, a.drug) for a in summary.alerts] == [("drug-allergy", "Aspirin", "Aspirin 81 mg")]


@pytest.mark.parametrize(
    ("allergen", "drug", "klass"),
    [
        ("Penicillin", "Amoxicilin 500 mg", "penicillins"),
        ("Dị ứng Aspirin", "Ibuprofen 400 mg", "NSAIDs and salicylates"),
        ("Sulfonamide", "Co-trimoxazole 480 mg", "sulfonamides"),
        ("Penicillin", "Ceftriaxon 1 g", "cephalosporins"),
    ],
)
def test_a_drug_of_the_allergys_class_is_an_alert(allergen: str, drug: str, klass: str) -> None:
    summary = summary_of(allergy(allergen), prescription(drug))
    assert [(a.kind, a.drug_class) for a in summary.alerts] == [("drug-allergy", klass)]


def test_a_drug_matched_by_its_atc_code() -> None:
    request = prescription("Thuốc kháng sinh X")
    request["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.whocc.no/atc", "code": "J01CA04"}],
        "text": "Thuốc kháng sinh X",
    }
    summary = summary_of(allergy("Penicillin", "764146007"), request)
    assert [a.drug_class for a in summary.alerts] == ["penicillins"]


def test_no_alert_for_an_unrelated_drug() -> None:
    summary = summary_of(allergy("Aspirin"), allergy("Hải sản"), prescription("Paracetamol 500 mg"))
    assert summary.alerts == ()


def test_the_class_table_names_its_sources() -> None:
    table = drug_classes()
    assert table.sources and all(c.drugs and c.allergens for c in table.classes)
    assert any("ATC" in source for source in table.sources)
