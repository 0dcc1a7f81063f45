"""Property tests of everything that reads what a server (or a file) sent: the FHIR-to-domain mapping, the summary
builder, JSON decoding, the CapabilityStatement, SMART Health Links, trust lists and signature checks. Any JSON-ish
input ends as a domain model or as the module's own clear error, never as another exception.

The card payload parsers are covered by `tests/scanners/test_properties.py`; these are the rest.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lookup.domain.model import Demographics, PatientRecord, SignatureCheck, SignatureStatus
from lookup.fhir.bundles import bundle_total, match_entries, next_link, search_entries
from lookup.fhir.capabilities import ServerFeatures, parse_capability_statement
from lookup.fhir.documents import appointment_of, document_info, referral_of, split_summary, summarize
from lookup.fhir.patient import demographics_of, patient_record
from lookup.health_links.link import ShlError, parse_link
from lookup.transport.client import decode_json
from lookup.transport.faults import FhirError
from lookup.trust.signatures import verify_document
from lookup.trust.trust_list import TrustList, TrustListError

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(
    [
        "resourceType", "id", "name", "family", "given", "text", "use", "birthDate", "gender", "address", "state",
        "line", "city", "district", "telecom", "system", "value", "identifier", "entry", "resource", "search",
        "score", "mode", "extension", "url", "valueCode", "link", "relation", "total", "type", "coding", "code",
        "display", "signature", "data", "sigFormat", "subject", "reference", "custodian", "date", "title", "section",
        "status", "start", "participant", "actor", "rest", "operation", "definition", "security", "keys", "kid",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["Patient", "Bundle", "Composition", "male", "female", "official", "1990", "1990-02-30",
                       "2024-01-05T10:00:00+07:00", "match", "next", "certain", "Patient/p1", "#x", ""])
)  # fmt: skip
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6),
    max_leaves=40,
)

NAME = st.fixed_dictionaries(
    {},
    optional={
        "use": st.sampled_from(["official", "usual", "nickname"]) | JSONISH,
        "family": st.text(max_size=20) | JSONISH,
        "given": st.lists(st.text(max_size=15) | JSONISH, max_size=4) | JSONISH,
        "text": st.text(max_size=40) | JSONISH,
    },
)
PATIENT = st.fixed_dictionaries(
    {"resourceType": st.just("Patient")},
    optional={
        "id": st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True) | JSONISH,
        "name": st.lists(NAME | JSONISH, max_size=3) | JSONISH,
        "birthDate": st.dates().map(str) | st.text(max_size=12) | JSONISH,
        "gender": st.sampled_from(["male", "female", "other", "unknown"]) | JSONISH,
        "identifier": st.lists(
            st.fixed_dictionaries({"system": st.text(max_size=40) | JSONISH, "value": st.text(max_size=20) | JSONISH})
            | JSONISH,
            max_size=3,
        )
        | JSONISH,
        "address": st.lists(st.dictionaries(KEYS, JSONISH | st.text(max_size=20), max_size=4), max_size=2) | JSONISH,
        "telecom": st.lists(st.dictionaries(KEYS, JSONISH | st.text(max_size=15), max_size=3), max_size=2) | JSONISH,
    },
)
ENTRY = st.fixed_dictionaries(
    {}, optional={"resource": PATIENT | JSONISH, "search": st.dictionaries(KEYS, JSONISH, max_size=4) | JSONISH}
)
BUNDLE = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle")},
    optional={
        "type": st.sampled_from(["searchset", "document", "collection"]) | JSONISH,
        "entry": st.lists(ENTRY | JSONISH, max_size=4) | JSONISH,
        "link": st.lists(st.dictionaries(KEYS, JSONISH, max_size=3), max_size=2) | JSONISH,
        "total": JSONISH,
        "signature": st.dictionaries(KEYS, JSONISH, max_size=4) | JSONISH,
        "timestamp": JSONISH,
    },
)
CHECK = st.sampled_from(list(SignatureStatus)).map(lambda s: SignatureCheck(status=s))
SOMEONE = PatientRecord(id="p1", identifiers=(), demographics=Demographics(family="Nguyễn", given="An"))


@FUZZ
@given(PATIENT | st.dictionaries(KEYS, JSONISH, max_size=8))
def test_a_patient_maps_to_a_record_or_to_none(resource: dict[str, Any]) -> None:
    record = patient_record(resource)
    assert record is None or isinstance(record, PatientRecord)
    assert isinstance(demographics_of(resource), Demographics)


@FUZZ
@given(BUNDLE | st.dictionaries(KEYS, JSONISH, max_size=8))
def test_search_and_match_bundles_map_or_are_skipped(bundle: dict[str, Any]) -> None:
    assert all(isinstance(r, dict) for r in search_entries(bundle))
    assert all(isinstance(r, dict) for r in search_entries(bundle, "Patient"))
    for resource, score, _ in match_entries(bundle):
        assert isinstance(resource, dict) and (score is None or 0 <= score <= 1)
    link = next_link(bundle)
    assert link is None or isinstance(link, str)
    total = bundle_total(bundle)
    assert total is None or total >= 0


@FUZZ
@given(st.lists(st.tuples(BUNDLE | st.dictionaries(KEYS, JSONISH, max_size=6), CHECK), max_size=3))
def test_any_document_bundles_make_a_summary(documents: list[tuple[dict[str, Any], SignatureCheck]]) -> None:
    summary = summarize(SOMEONE, documents)
    assert len(summary.documents) == len(documents)
    for bundle, check in documents:
        info, _ = document_info(bundle, check)
        assert info.signature.status is check.status


@FUZZ
@given(BUNDLE | st.dictionaries(KEYS, JSONISH, max_size=6))
def test_a_summary_bundle_splits_or_is_empty(bundle: dict[str, Any]) -> None:
    patient, documents = split_summary(bundle)
    assert patient is None or isinstance(patient, dict)
    assert all(isinstance(d, dict) for d in documents)


@FUZZ
@given(st.dictionaries(KEYS, JSONISH, max_size=8))
def test_appointments_and_referrals_map_or_fail_clearly(resource: dict[str, Any]) -> None:
    with contextlib.suppress(ValidationError, ValueError):
        appointment_of(resource)
    with contextlib.suppress(ValidationError, ValueError):
        referral_of(resource)


@FUZZ
@given(st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v, allow_nan=True).encode()))
def test_any_body_decodes_or_is_a_named_fault(content: bytes) -> None:
    try:
        decoded = decode_json(content)
    except FhirError as exc:
        assert exc.kind.value in ("truncated", "invalid-json")
    else:
        assert isinstance(decoded, dict) and isinstance(decoded.get("resourceType"), str)


@FUZZ
@given(st.dictionaries(KEYS, JSONISH, max_size=8))
def test_any_capability_statement_gives_features(doc: dict[str, Any]) -> None:
    assert isinstance(parse_capability_statement(doc | {"resourceType": "CapabilityStatement"}), ServerFeatures)
    assert isinstance(parse_capability_statement(doc), ServerFeatures)


@FUZZ
@given(JSONISH | st.dictionaries(st.sampled_from(["url", "key", "exp", "flag", "label"]), JSONISH, max_size=5))
def test_any_health_link_parses_or_is_a_link_error(payload: Any) -> None:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    for text in (f"shlink:/{encoded}", f"https://viewer.example/#shlink:/{encoded}", encoded):
        with contextlib.suppress(ShlError):
            parse_link(text)


@FUZZ
@given(JSONISH | st.dictionaries(st.just("keys"), st.lists(st.dictionaries(KEYS, JSONISH, max_size=6), max_size=3)))
def test_any_jwks_loads_or_is_a_trust_list_error(jwks: Any) -> None:
    with contextlib.suppress(TrustListError):
        TrustList.from_jwks(jwks if isinstance(jwks, dict) else {"keys": jwks})


@FUZZ
@given(BUNDLE, st.text(max_size=120) | JSONISH)
def test_signature_checks_never_raise(bundle: dict[str, Any], data: Any) -> None:
    signed = bundle | {"signature": {"sigFormat": "application/jose", "data": data}}
    for candidate in (bundle, signed):
        assert verify_document(candidate, TrustList.empty()).status in set(SignatureStatus)
