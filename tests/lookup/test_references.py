"""The one reader of FHIR references: every form FHIR allows names the same resource, and a form it cannot read
keeps only what it declares."""

from __future__ import annotations

import pytest

from lookup.fhir.references import entry_index, references, target

PATIENT = {"resourceType": "Patient", "id": "p7"}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "document",
    "entry": [
        {"fullUrl": "urn:uuid:0d4f", "resource": PATIENT},
        {
            "fullUrl": "https://host/fhir/Organization/01929",
            "resource": {"resourceType": "Organization", "id": "01929"},
        },
    ],
}


@pytest.mark.parametrize(
    "reference",
    ["Patient/p7", "https://other.example/fhir/Patient/p7", "Patient/p7/_history/2", "urn:uuid:0d4f"],
)
def test_every_form_names_the_same_patient(reference: str) -> None:
    found = target({"reference": reference}, entry_index(BUNDLE))
    assert found is not None and (found.type, found.id) == ("Patient", "p7")


def test_outside_a_bundle_relative_and_absolute_forms_still_read() -> None:
    found = target({"reference": "https://other.example/fhir/Patient/p7/_history/1"})
    assert found is not None and (found.type, found.id) == ("Patient", "p7") and found.resource is None


def test_unreadable_forms_keep_only_their_declared_type() -> None:
    unresolved = target({"reference": "urn:uuid:ffff", "type": "Patient"}, entry_index(BUNDLE))
    assert unresolved is not None and (unresolved.type, unresolved.id) == ("Patient", None)
    conditional = target({"reference": "Patient?identifier=x|1"})
    assert conditional is not None and (conditional.type, conditional.id) == (None, None)
    logical = target({"identifier": {"system": "urn:x", "value": "42"}, "type": "Patient"})
    assert logical is not None and logical.identifier == ("urn:x", "42") and logical.id is None
    assert target({"display": "Nguyễn Văn A"}) is None


def test_a_contained_patient_has_no_id_of_its_own() -> None:
    holder = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "p7"}],
        "subject": {"reference": "#p7"},
    }
    found = target(holder["subject"], None, holder)
    assert found is not None and (found.type, found.id) == ("Patient", None)


def test_references_are_found_anywhere_with_their_element() -> None:
    appointment = {
        "resourceType": "Appointment",
        "identifier": [{"system": "urn:x", "value": "a1"}],
        "participant": [{"actor": {"reference": "Patient/p7"}}, {"actor": {"display": "Phòng khám 3"}}],
        "contained": [{"resourceType": "Patient", "id": "x", "link": [{"other": {"reference": "Patient/p9"}}]}],
    }
    assert [(element, ref["reference"]) for element, ref in references(appointment)] == [("actor", "Patient/p7")]
