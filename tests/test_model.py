"""The domain models round-trip through JSON and refuse bad values with messages that say what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
from lookup.domain.model import (
    Candidate,
    Demographics,
    DocumentInfo,
    DocumentType,
    FieldAgreement,
    Identifier,
    LookupOutcome,
    LookupSource,
    LookupStatus,
    MatchGrade,
    PatientRecord,
    PatientSummary,
    Provenance,
    ScanKind,
    ScanResult,
    Sex,
    SignatureCheck,
    SignatureStatus,
    SummaryItem,
)

CCCD = DEFAULT_TABLE.system(IdentifierKind.CCCD)
BHYT = DEFAULT_TABLE.system(IdentifierKind.BHYT)


def _patient() -> PatientRecord:
    return PatientRecord(
        id="p-1",
        identifiers=(Identifier(system=CCCD, value="001090012345"),),
        demographics=Demographics(
            family="Nguyễn",
            middle="Văn",
            given="An",
            birth_date=dt.date(1990, 3, 21),
            sex=Sex.MALE,
            province="Hà Nội",
            phone="0912345678",
        ),
    )


def test_outcome_round_trips_through_json() -> None:
    patient = _patient()
    prov = Provenance(
        facility_code="01001",
        facility_name="Bạch Mai",
        document_id="d1",
        document_type=DocumentType.PATIENT_SUMMARY,
        date=dt.date(2026, 1, 2),
        signature=SignatureStatus.VALID,
    )
    summary = PatientSummary(
        patient=patient,
        allergies=(SummaryItem(text="Penicillin", detail="severe", provenance=prov),),
        documents=(
            DocumentInfo(
                id="d1",
                type=DocumentType.PATIENT_SUMMARY,
                facility_code="01001",
                signature=SignatureCheck(status=SignatureStatus.VALID, issuer="01001 Bạch Mai"),
            ),
        ),
    )
    outcome = LookupOutcome(
        status=LookupStatus.FOUND, source=LookupSource.CACHE, age_seconds=12.5, patient=patient, summary=summary
    )
    again = LookupOutcome.model_validate_json(outcome.model_dump_json())
    assert again == outcome
    assert again.summary is not None and again.summary.allergies[0].provenance.facility_name == "Bạch Mai"


def test_scan_result_round_trips() -> None:
    scan = ScanResult(
        format="QRCode",
        text="x",
        decoder="zxing-cpp",
        kind=ScanKind.CCCD,
        identifiers=(Identifier(system=CCCD, value="001090012345"),),
        demographics=Demographics(given="An", birth_year=1990),
    )
    assert ScanResult.model_validate_json(scan.model_dump_json()) == scan
    assert scan.signature.status is SignatureStatus.UNSIGNED


@pytest.mark.parametrize(("system", "value"), [(CCCD, "12345"), (CCCD, "00109001234X"), (BHYT, "abc")])
def test_bad_identifier_is_refused_without_echoing_the_value(system: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        Identifier(system=system, value=value)
    assert "not a well-formed" in str(err.value)


def test_unknown_systems_accept_any_value() -> None:
    assert Identifier(system="urn:oid:1.2.3", value="anything").token == "urn:oid:1.2.3|anything"


def test_identifier_token_parsing() -> None:
    ident = Identifier.parse_token(f"{CCCD}|001090012345")
    assert ident.value == "001090012345"
    with pytest.raises(ValueError, match="SYSTEM\\|VALUE"):
        Identifier.parse_token("001090012345")


def test_birth_date_fills_and_checks_birth_year() -> None:
    assert Demographics(birth_date=dt.date(1990, 1, 1)).birth_year == 1990
    with pytest.raises(ValidationError, match="birth_year does not agree"):
        Demographics(birth_date=dt.date(1990, 1, 1), birth_year=1991)
    with pytest.raises(ValidationError):
        Demographics(birth_year=1700)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Demographics.model_validate({"given": "An", "nickname": "Bé"})


def test_outcome_shapes_are_checked() -> None:
    with pytest.raises(ValidationError, match="needs the patient"):
        LookupOutcome(status=LookupStatus.FOUND)
    with pytest.raises(ValidationError, match="at least one candidate"):
        LookupOutcome(status=LookupStatus.CANDIDATES)
    with pytest.raises(ValidationError, match="how old"):
        LookupOutcome(status=LookupStatus.NOT_FOUND, source=LookupSource.CACHE)


def test_candidates_come_ranked() -> None:
    low = Candidate(patient=_patient(), score=0.2, grade=MatchGrade.POSSIBLE)
    high = Candidate(
        patient=_patient(),
        score=0.9,
        grade=MatchGrade.PROBABLE,
        agreements=(FieldAgreement(field="birth_date", level="close", note="day and month swapped"),),
    )
    outcome = LookupOutcome(status=LookupStatus.CANDIDATES, candidates=(low, high))
    assert [c.score for c in outcome.candidates] == [0.9, 0.2]
    assert "day and month swapped" in high.explanation
    with pytest.raises(ValidationError):
        Candidate(patient=_patient(), score=1.5, grade=MatchGrade.CERTAIN)


def test_identifier_table_overrides() -> None:
    table = IdentifierSystems({"cccd": "urn:example:cccd"})
    assert table.system(IdentifierKind.CCCD) == "urn:example:cccd"
    assert table.kind("urn:example:cccd") is IdentifierKind.CCCD
    assert table.kind(BHYT) is IdentifierKind.BHYT
