"""A server without `$summary`: the summary is the union of its documents and its records read one resource type at a
time, and a section the server sent only part of, or failed to answer for, never looks complete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lookup.domain.model import Identifier, LookupOutcome, LookupStatus, SectionState, SignatureStatus
from lookup.fhir.capabilities import parse_capability_statement
from lookup.service.assembly import unsigned_only
from tests.lookup.conftest import CARD, ServiceFactory
from tests.lookup.fhirserver import CCCD, serve
from tests.lookup.plainserver import Plain, allergy, condition

ID = Identifier(system=CCCD, value=CARD)
LOADED_MACHINE_TIMEOUT_S = 5.0
"""Nothing here is about time: a budget a busy CI machine always meets (the factory's 0.5 s is for fault tests)."""


@pytest.fixture
def plain() -> Iterator[tuple[Plain, str]]:
    app = Plain()
    app.add("p1", CARD)
    with serve(app) as base:
        yield app, base


def no_documents(app: Plain) -> Plain:
    app.documents["p1"] = []
    return app


async def open_card(app: Plain, base: str, make_service: ServiceFactory) -> LookupOutcome:
    outcome = await make_service(base, app, timeout_s=LOADED_MACHINE_TIMEOUT_S).by_identifier(ID)
    assert outcome.status is LookupStatus.FOUND, outcome.message
    assert outcome.summary is not None
    return outcome


def allergies_of(outcome: LookupOutcome) -> dict[str, SignatureStatus]:
    assert outcome.summary is not None
    return {a.text: a.provenance.signature for a in outcome.summary.allergies}


async def test_an_allergy_kept_outside_any_document_is_shown_unsigned(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"))
    outcome = await open_card(app, base, make_service)
    assert outcome.summary is not None
    [shown] = outcome.summary.allergies
    assert (shown.text, shown.criticality, shown.provenance.signature) == (
        "Penicillin",
        "high",
        SignatureStatus.UNSIGNED,
    )
    assert outcome.summary.completeness["allergies"] is SectionState.RECORDED
    assert any(r.startswith("GET AllergyIntolerance") for r in app.requests)


async def test_a_record_also_in_a_signed_document_is_shown_once_from_the_document(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    # `Faulty.add` put Penicillin (AllergyIntolerance/p1-d1-a) into a signed document.
    app.keep("p1", allergy("p1", "p1-d1-a", "Penicillin"), allergy("p1", "a2", "Aspirin", criticality="low"))
    outcome = await open_card(app, base, make_service)
    assert allergies_of(outcome) == {"Penicillin": SignatureStatus.VALID, "Aspirin": SignatureStatus.UNSIGNED}
    assert outcome.summary is not None and len(outcome.summary.allergies) == 2


async def test_a_tampered_document_hides_no_record_of_the_server(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    app.tamper("p1", "Amoxicillin")
    app.keep("p1", allergy("p1", "p1-d1-a", "Penicillin"))
    outcome = await open_card(app, base, make_service)
    assert allergies_of(outcome) == {"Amoxicillin": SignatureStatus.INVALID, "Penicillin": SignatureStatus.UNSIGNED}


def test_a_record_named_by_the_fullurl_of_a_document_entry_is_left_out() -> None:
    url = "https://server.example/fhir/AllergyIntolerance/x1"
    document = {"resourceType": "Bundle", "entry": [{"fullUrl": url, "resource": {"resourceType": "Composition"}}]}
    kept = allergy("p1", "other-id", "Penicillin")
    extra = allergy("p1", "a9", "Aspirin")
    assert unsigned_only([document], [(url, kept), (None, extra), (None, extra)]) == [extra]


async def test_records_on_two_pages_are_both_gathered(plain: tuple[Plain, str], make_service: ServiceFactory) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"), allergy("p1", "a2", "Aspirin"))
    app.page_size = 1
    outcome = await open_card(app, base, make_service)
    assert set(allergies_of(outcome)) == {"Penicillin", "Aspirin"}
    assert outcome.summary is not None and outcome.summary.completeness["allergies"] is SectionState.RECORDED
    assert app.requests.count("GET AllergyIntolerance") == 2, "the second page was asked by its `next` link"


async def test_a_total_larger_than_what_was_received_marks_the_section_incomplete(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"), allergy("p1", "a2", "Aspirin"))
    app.page_size = 1
    app.claimed_total["AllergyIntolerance"] = 3
    outcome = await open_card(app, base, make_service)
    assert set(allergies_of(outcome)) == {"Penicillin", "Aspirin"}
    assert outcome.summary is not None and outcome.summary.completeness["allergies"] is SectionState.INCOMPLETE


async def test_more_pages_than_the_kiosk_reads_mark_the_section_incomplete(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    no_documents(app).keep("p1", *(condition("p1", f"c{i}", f"Problem {i}") for i in range(7)))
    app.page_size = 1
    outcome = await open_card(app, base, make_service)
    assert outcome.summary is not None
    assert len(outcome.summary.problems) == 5
    assert outcome.summary.completeness["problems"] is SectionState.INCOMPLETE


@pytest.mark.parametrize("fault", ["500", "truncated"])
async def test_a_record_query_that_fails_marks_its_section_not_read(
    plain: tuple[Plain, str], make_service: ServiceFactory, fault: str
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"), condition("p1", "c1", "Hen phế quản"))
    app.fault, app.fault_path = fault, "AllergyIntolerance"
    outcome = await open_card(app, base, make_service)
    assert outcome.summary is not None
    assert outcome.summary.allergies == ()
    assert outcome.summary.completeness["allergies"] is SectionState.NOT_READ
    assert [p.text for p in outcome.summary.problems] == ["Hen phế quản"]
    assert outcome.summary.completeness["problems"] is SectionState.RECORDED


async def test_a_server_that_answered_no_record_query_and_holds_no_document_is_unavailable(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"))
    app.offered = frozenset({"AllergyIntolerance"})
    app.fault, app.fault_path = "500", "AllergyIntolerance"
    outcome = await make_service(base, app, timeout_s=LOADED_MACHINE_TIMEOUT_S).by_identifier(ID)
    assert outcome.status is LookupStatus.OFFLINE, outcome.status
    assert outcome.summary is None


async def test_a_failed_record_query_beside_a_signed_document_still_says_not_everything_was_read(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    app.fault, app.fault_path = "500", "AllergyIntolerance"
    outcome = await open_card(app, base, make_service)
    assert allergies_of(outcome) == {"Penicillin": SignatureStatus.VALID}
    assert outcome.summary is not None and outcome.summary.completeness["allergies"] is SectionState.NOT_READ


async def test_versioned_and_absolute_references_to_the_patient_on_this_server_are_accepted(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    versioned = allergy("p1", "a1", "Penicillin", patient="Patient/p1/_history/3")
    absolute = allergy("p1", "a2", "Aspirin", patient=f"{base}/Patient/p1")
    both = allergy("p1", "a3", "Latex", patient=f"{base}/Patient/p1/_history/2")
    no_documents(app).keep("p1", versioned, absolute, both)
    outcome = await open_card(app, base, make_service)
    assert set(allergies_of(outcome)) == {"Penicillin", "Aspirin", "Latex"}


@pytest.mark.parametrize("metadata", [True, False])
async def test_without_a_capability_statement_record_types_are_probed(
    plain: tuple[Plain, str], make_service: ServiceFactory, metadata: bool
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"), condition("p1", "c1", "Hen phế quản"))
    app.offered = frozenset({"AllergyIntolerance"})
    app.with_metadata = metadata
    outcome = await open_card(app, base, make_service)
    assert outcome.summary is not None
    assert set(allergies_of(outcome)) == {"Penicillin"}
    # A type the server does not offer is no claim about the patient: no information, never "could not be read".
    assert outcome.summary.completeness["problems"] is SectionState.NO_INFORMATION
    asked = any(r.startswith("GET Condition") for r in app.requests)
    assert asked is not metadata, "a described server is asked only for what it lists; an undescribed one is probed"


async def test_missing_consent_still_stops_the_lookup(plain: tuple[Plain, str], make_service: ServiceFactory) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"))
    app.consent.clear()
    outcome = await make_service(base, app, timeout_s=LOADED_MACHINE_TIMEOUT_S).by_identifier(ID)
    assert outcome.status is LookupStatus.CONSENT_REQUIRED
    assert outcome.summary is None


def test_a_type_whose_listed_search_parameters_lack_patient_is_not_asked() -> None:
    statement = {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {"type": "Encounter", "searchParam": [{"name": "date", "type": "date"}]},
                    {"type": "AllergyIntolerance"},
                ],
            }
        ],
    }
    features = parse_capability_statement(statement)
    assert not features.supports_search("Encounter", "patient")
    assert features.supports_search("AllergyIntolerance", "patient")
    assert not features.supports_search("Condition", "patient")


async def test_one_record_type_that_always_fails_does_not_take_the_server_offline(
    plain: tuple[Plain, str], make_service: ServiceFactory
) -> None:
    app, base = plain
    no_documents(app).keep("p1", allergy("p1", "a1", "Penicillin"), condition("p1", "c1", "Hen phế quản"))
    app.fault, app.fault_path = "500", "AllergyIntolerance"
    service = make_service(base, app, timeout_s=LOADED_MACHINE_TIMEOUT_S)
    for _ in range(3):
        outcome = await service.by_identifier(ID)
        assert outcome.status is LookupStatus.FOUND, outcome.message
        assert outcome.summary is not None
        assert outcome.summary.completeness["allergies"] is SectionState.NOT_READ
        assert [p.text for p in outcome.summary.problems] == ["Hen phế quản"]
