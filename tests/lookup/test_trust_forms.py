"""The trust list's forms (plain JWKS, issuers pinned by URL as in a directory snapshot, revocations, local expiry)
and how card and document verification honour them, with the public SMART Health Card example vectors."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from lookup.domain.model import SignatureStatus
from lookup.trust.signatures import sign_document, verify_document
from lookup.trust.trust_file import TrustDocument, document_of, parse_instant
from lookup.trust.trust_list import TrustList, TrustListError
from scanners.payloads.shc import ShcChunks, parse_shc
from testkit.health_cards import signed_card

REPO = Path(__file__).resolve().parents[2]
FHIR = REPO / "tests" / "data" / "samples" / "fhir"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
CARD_00 = (FHIR / "example-00-f-qr-code-numeric-value-0.txt").read_text(encoding="utf-8").strip()
KID_00 = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
"""The key that signed the example cards, whose `nbf` is 2023-06-22 16:19 UTC."""


def _published() -> dict[str, Any]:
    """The example issuer's JWKS as it publishes it: no `iss` member on any key."""
    data: dict[str, Any] = json.loads((FHIR / "jwks.json").read_text(encoding="utf-8"))
    return data


def _pinned(**entry: Any) -> dict[str, Any]:
    return {
        "issuerInfo": [{"issuer": {"iss": SHC_ISSUER, "name": "SMART example"}, "keys": _published()["keys"]} | entry]
    }


def _card_status(trust: dict[str, Any], card: str = CARD_00) -> tuple[SignatureStatus, str | None]:
    reading = parse_shc(card, TrustList.from_jwks(trust))
    return reading.signature.status, reading.signature.reason


def test_the_published_jwks_as_a_plain_trust_list_vouches_for_no_issuer() -> None:
    assert _card_status(_published())[0] is SignatureStatus.UNKNOWN_SIGNER


def test_an_issuer_pinned_by_url_with_its_published_jwks_makes_the_example_card_valid() -> None:
    assert _card_status(_pinned()) == (SignatureStatus.VALID, None)
    parts = [(FHIR / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text().strip() for i in range(3)]
    chunks, trust = ShcChunks(), TrustList.from_jwks(_pinned())
    readings = [parse_shc(part, trust, chunks=chunks) for part in parts]
    assert readings[-1].signature.status is SignatureStatus.VALID


def test_a_directory_snapshot_is_a_trust_list_and_keeps_what_it_does_not_know() -> None:
    snapshot: dict[str, Any] = {
        "directory": "https://example.org/vci_snapshot.json",
        "time": "2026-01-01T00:00:00Z",
        "issuerInfo": [
            {
                "issuer": {"iss": SHC_ISSUER, "name": "SMART example", "website": "https://smarthealth.cards"},
                "keys": _published()["keys"],
                "crls": [{"kid": KID_00, "method": "rid", "ctr": 1, "rids": []}],
            }
        ],
    }
    assert _card_status(snapshot)[0] is SignatureStatus.VALID
    dumped = document_of(snapshot, "snapshot").dump()
    assert (
        dumped["directory"] == snapshot["directory"]
        and dumped["issuerInfo"][0]["crls"] == snapshot["issuerInfo"][0]["crls"]
    )
    assert dumped["issuerInfo"][0]["keys"] == _published()["keys"]  # as published, not rewritten


def test_the_former_forms_stay_valid() -> None:
    legacy = _published()
    for key in legacy["keys"]:
        key["iss"] = SHC_ISSUER
    assert _card_status(legacy)[0] is SignatureStatus.VALID
    assert TrustDocument.model_validate(legacy).dump() == legacy


def test_a_revoked_key_makes_its_card_invalid_with_the_reason() -> None:
    revoked = {"kid": KID_00, "reason": "the signing key leaked", "when": "2026-11-30"}
    status, reason = _card_status(_pinned() | {"revoked": [revoked]})
    assert status is SignatureStatus.INVALID
    assert reason is not None and "revoked on 2026-11-30" in reason and "the signing key leaked" in reason


def test_a_revocation_for_another_issuer_leaves_the_key_alone() -> None:
    revoked = {"kid": KID_00, "iss": "https://other.example", "reason": "not this one", "when": "2026-11-30"}
    assert _card_status(_pinned() | {"revoked": [revoked]})[0] is SignatureStatus.VALID


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ({"not_after": "2023-06-21"}, False),
        ({"not_after": "2023-06-22"}, True),  # a date is the whole day: the card was signed that afternoon
        ({"key_not_after": {KID_00: "2023-06-22T16:00:00Z"}}, False),
        ({"not_after": "2030-01-01", "key_not_after": {KID_00: "2023-01-01"}}, False),  # the earlier one counts
        ({"not_after": "2030-01-01"}, True),
    ],
)
def test_a_card_signed_after_its_key_expired_is_invalid(entry: dict[str, Any], valid: bool) -> None:
    status, reason = _card_status(_pinned(**entry))
    if valid:
        assert (status, reason) == (SignatureStatus.VALID, None)
    else:
        assert status is SignatureStatus.INVALID
        assert reason is not None and "signed on 2023-06-22 16:19 UTC, after the signing key expired" in reason


def test_a_key_pinned_for_one_issuer_does_not_vouch_for_another() -> None:
    key = ECKey.generate_key("P-256")
    trust = {
        "issuerInfo": [
            {"issuer": {"iss": "https://a.example/shc"}, "keys": [key.as_dict(private=False) | {"kid": "k1"}]}
        ]
    }
    card = signed_card(key, {"resourceType": "Patient"}, kid="k1", issuer="https://b.example/shc")
    status, reason = _card_status(trust, card)
    assert status is SignatureStatus.UNKNOWN_SIGNER and reason is not None and "another issuer" in reason
    own = signed_card(key, {"resourceType": "Patient"}, kid="k1", issuer="https://a.example/shc/")
    assert _card_status(trust, own)[0] is SignatureStatus.VALID


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda k: k | {"d": "AAAA"},
            "issuerInfo[0] (https://spec.smarthealth.cards/examples/issuer) keys[0]: holds a private key",
        ),
        (lambda k: k | {"crv": "P-384"}, "only EC P-256"),
        (lambda k: {n: v for n, v in k.items() if n != "kid"}, "has no `kid`"),
    ],
)
def test_an_issuer_key_the_kiosk_cannot_trust_is_refused_naming_it(change: Any, words: str) -> None:
    trust = _pinned()
    trust["issuerInfo"][0]["keys"][0] = change(trust["issuerInfo"][0]["keys"][0])
    with pytest.raises(TrustListError, match=re.escape(words)):
        TrustList.from_jwks(trust, "trust.json")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"issuerInfo": [{"keys": []}]}, r"trust.json: issuerInfo\[0\].issuer: Field required"),
        ({"keys": [], "revoked": [{"kid": "k", "when": "2026-01-01"}]}, r"revoked\[0\].reason: Field required"),
        ({"keys": [], "revoked": [{"kid": "k", "reason": "r", "when": "soon"}]}, "not a date"),
        ({"issuerInfo": [{"issuer": {"iss": SHC_ISSUER}, "keys": [], "not_after": "31/01/2027"}]}, "not a date"),
        ({"nothing": []}, "not a JWKS"),
    ],
)
def test_a_malformed_trust_list_is_refused_in_words(data: dict[str, Any], words: str) -> None:
    with pytest.raises(TrustListError, match=words):
        TrustList.from_jwks(data, "trust.json")


def test_a_date_means_through_that_day_utc() -> None:
    assert parse_instant("2027-01-31") == dt.datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    assert parse_instant("2027-01-31T12:00:00+07:00") == dt.datetime(2027, 1, 31, 5, tzinfo=dt.UTC)


def _facility(key: ECKey, **extra: Any) -> dict[str, Any]:
    return key.as_dict(private=False) | {"kid": "fac-1", "facility_code": "79001", "facility_name": "BV A"} | extra


def _document(key: ECKey, when: dt.datetime) -> dict[str, Any]:
    bundle = {"resourceType": "Bundle", "type": "document", "entry": []}
    return sign_document(bundle, key, "fac-1", facility="79001 BV A", when=when)


def test_facility_documents_honour_revocation_and_expiry_by_signature_when() -> None:
    key = ECKey.generate_key("P-256")
    document = _document(key, dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    assert verify_document(document, TrustList.from_jwks({"keys": [_facility(key)]})).status is SignatureStatus.VALID
    later = TrustList.from_jwks({"keys": [_facility(key, not_after="2026-03-01")]})
    assert verify_document(document, later).status is SignatureStatus.VALID
    expired = verify_document(document, TrustList.from_jwks({"keys": [_facility(key, not_after="2026-02-28")]}))
    assert expired.status is SignatureStatus.INVALID
    assert expired.reason is not None and "after the signing key expired (2026-02-28 23:59 UTC)" in expired.reason
    revoked = {"kid": "fac-1", "reason": "stolen laptop", "when": "2026-04-01"}
    check = verify_document(document, TrustList.from_jwks({"keys": [_facility(key)], "revoked": [revoked]}))
    assert check.status is SignatureStatus.INVALID and check.reason is not None and "stolen laptop" in check.reason


def test_a_pinned_issuers_key_cannot_sign_a_facility_document() -> None:
    key = ECKey.generate_key("P-256")
    document = _document(key, dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    entry = {"issuer": {"iss": "https://a.example/shc"}, "keys": [key.as_dict(private=False) | {"kid": "fac-1"}]}
    check = verify_document(document, TrustList.from_jwks({"issuerInfo": [entry]}))
    assert check.status is SignatureStatus.UNKNOWN_SIGNER
