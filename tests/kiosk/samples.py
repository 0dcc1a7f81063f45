"""Fixed domain data and a fixed clock for the snapshot tests: a synthetic patient, never a real one."""

from __future__ import annotations

import datetime as dt

from lookup.domain.model import (
    Alert,
    Appointment,
    Candidate,
    CriticalFact,
    Demographics,
    DocumentInfo,
    DocumentType,
    FieldAgreement,
    Identifier,
    LookupOutcome,
    LookupSource,
    LookupStatus,
    MatchGrade,
    Observation,
    PatientRecord,
    PatientSummary,
    Provenance,
    Referral,
    SectionState,
    Sex,
    SignatureCheck,
    SignatureStatus,
    SummaryItem,
)

NOW = dt.datetime(2026, 3, 14, 8, 30, tzinfo=dt.UTC)
CCCD = "http://fhir.hl7.org.vn/core/sid/cccd"


def fixed_clock() -> dt.datetime:
    return NOW


PATIENT = PatientRecord(
    id="p42",
    identifiers=(Identifier(system=CCCD, value="001190012345"),),
    demographics=Demographics(
        family="Trần", middle="Thị", given="Hoa", birth_date=dt.date(1990, 5, 17), sex=Sex.FEMALE, province="Hà Nội"
    ),
)
BACH_MAI = Provenance(
    facility_code="01909",
    facility_name="Bệnh viện Bạch Mai",
    document_id="d1",
    document_type=DocumentType.PATIENT_SUMMARY,
    date=dt.date(2025, 11, 2),
    signature=SignatureStatus.VALID,
)
CHO_RAY = Provenance(
    facility_code="79001",
    facility_name="Bệnh viện Chợ Rẫy",
    document_id="d2",
    document_type=DocumentType.PRESCRIPTION,
    date=dt.date(2026, 1, 20),
    signature=SignatureStatus.INVALID,
)
UNKNOWN = Provenance(facility_name="Phòng khám tư", document_id="d3", signature=SignatureStatus.UNKNOWN_SIGNER)

SUMMARY = PatientSummary(
    patient=PATIENT,
    allergies=(
        SummaryItem(
            text="Penicillin",
            criticality="high",
            reaction="Phản vệ",
            reaction_severity="severe",
            provenance=BACH_MAI,
        ),
        SummaryItem(text="Hải sản", criticality="low", reaction="Nổi mày đay", provenance=BACH_MAI),
    ),
    blood_type=SummaryItem(text="O Rh+", provenance=BACH_MAI),
    critical_facts=(
        CriticalFact(kind="blood-type", text="O Rh+", provenance=BACH_MAI),
        CriticalFact(kind="device", text="Máy tạo nhịp tim", provenance=BACH_MAI),
    ),
    alerts=(
        Alert(
            kind="drug-allergy",
            text="allergy to Penicillin (penicillins); prescribed Amoxicilin 500 mg",
            allergy="Penicillin",
            drug="Amoxicilin 500 mg",
            drug_class="penicillins",
        ),
    ),
    completeness={"immunizations": SectionState.NONE_KNOWN, "appointments": SectionState.NOT_SHARED},
    problems=(
        SummaryItem(text="Đái tháo đường típ 2", code="E11", date=dt.date(2019, 4, 1), provenance=BACH_MAI),
        SummaryItem(text="Tăng huyết áp", code="I10", date=dt.date(2021, 8, 9), provenance=UNKNOWN),
    ),
    medications=(
        SummaryItem(text="Metformin 500 mg", detail="2 lần/ngày", provenance=BACH_MAI),
        SummaryItem(
            text="Amoxicilin 500 mg",
            detail="3 lần/ngày",
            date=dt.date(2026, 3, 10),
            provenance=CHO_RAY,
            from_prescription=True,
        ),
    ),
    prescriptions=(
        SummaryItem(text="Amlodipin 5 mg", detail="30 viên", date=dt.date(2026, 1, 20), provenance=CHO_RAY),
        SummaryItem(text="Amoxicilin 500 mg", detail="3 lần/ngày", date=dt.date(2026, 3, 10), provenance=CHO_RAY),
    ),
    encounters=(SummaryItem(text="Khám nội tiết", date=dt.date(2025, 11, 2), provenance=BACH_MAI),),
    referrals=(
        Referral(
            id="r1",
            reason="Đánh giá biến chứng thận",
            from_facility="Bệnh viện Bạch Mai",
            to_facility="Bệnh viện Thận Hà Nội",
            date=dt.date(2025, 11, 2),
            provenance=BACH_MAI,
        ),
    ),
    appointments=(
        Appointment(
            id="a1",
            start=dt.datetime(2026, 3, 14, 9, 30),
            status="booked",
            description="Tái khám nội tiết",
            facility_name="Bệnh viện Bạch Mai",
            provenance=BACH_MAI,
        ),
    ),
    results=tuple(
        Observation(
            code="4548-4",
            name="HbA1c",
            value=value,
            unit="%",
            date=dt.date(2025, month, 1),
            provenance=BACH_MAI,
            low=4.0,
            high=5.6,
            flag="H",
        )
        for month, value in ((2, 8.1), (5, 7.6), (8, 7.2), (11, 6.9))
    ),
    documents=(
        DocumentInfo(
            id="d1",
            type=DocumentType.PATIENT_SUMMARY,
            facility_code="01909",
            facility_name="Bệnh viện Bạch Mai",
            date=dt.date(2025, 11, 2),
            signature=SignatureCheck(status=SignatureStatus.VALID, issuer="01909 Bệnh viện Bạch Mai"),
        ),
        DocumentInfo(
            id="d2",
            type=DocumentType.PRESCRIPTION,
            facility_code="79001",
            facility_name="Bệnh viện Chợ Rẫy",
            date=dt.date(2026, 1, 20),
            signature=SignatureCheck(status=SignatureStatus.INVALID, reason="the signature does not match"),
        ),
    ),
)

FOUND = LookupOutcome(status=LookupStatus.FOUND, patient=PATIENT, summary=SUMMARY)
CACHED = LookupOutcome(
    status=LookupStatus.FOUND, source=LookupSource.CACHE, age_seconds=3 * 3600, patient=PATIENT, summary=SUMMARY
)
CANDIDATES = (
    Candidate(
        patient=PATIENT,
        score=0.87,
        grade=MatchGrade.PROBABLE,
        agreements=(
            FieldAgreement(field="given", level="agrees"),
            FieldAgreement(field="birth_date", level="close", note="day/month swapped"),
            FieldAgreement(field="province", level="agrees"),
        ),
    ),
    Candidate(
        patient=PatientRecord(
            id="p77",
            demographics=Demographics(family="Trần", given="Hoa", birth_year=1991, sex=Sex.FEMALE, province="Huế"),
        ),
        score=0.41,
        grade=MatchGrade.POSSIBLE,
        agreements=(
            FieldAgreement(field="given", level="agrees"),
            FieldAgreement(field="birth_year", level="close", note="one year off"),
            FieldAgreement(field="province", level="differs"),
        ),
    ),
)
MISMATCH = LookupOutcome(
    status=LookupStatus.IDENTITY_MISMATCH,
    patient=PATIENT,
    card=Demographics(family="Lê", middle="Văn", given="Nam", birth_date=dt.date(1985, 1, 2), sex=Sex.MALE),
    differs=("name", "birth_date", "sex"),
)
"""A card with this patient's number and another person's name, birth date and sex."""
