"""Document signatures: valid, tampered, unknown signer, unsigned."""

from __future__ import annotations

import base64
import copy
from typing import Any

from joserfc.jwk import ECKey

from lookup.domain.model import SignatureStatus
from lookup.trust.signatures import sign_document, verify_document
from lookup.trust.trust_list import TrustList


def _trust(key: ECKey, kid: str) -> TrustList:
    public = key.as_dict(private=False) | {"kid": kid, "facility_code": "01929", "facility_name": "Bệnh viện Bạch Mai"}
    return TrustList.from_jwks({"keys": [public]})


def _document() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [
            {"resource": {"resourceType": "Composition", "title": "Đơn thuốc"}},
            {"resource": {"resourceType": "MedicationRequest", "dosageInstruction": [{"text": "Metformin 500 mg"}]}},
        ],
    }


def test_valid_and_key_order_does_not_matter() -> None:
    key = ECKey.generate_key("P-256")
    signed = sign_document(_document(), key, "bm-1", facility="Bệnh viện Bạch Mai")
    check = verify_document(signed, _trust(key, "bm-1"))
    assert check.status is SignatureStatus.VALID
    assert check.issuer == "01929 Bệnh viện Bạch Mai"
    reordered = dict(reversed(list(signed.items())))
    assert verify_document(reordered, _trust(key, "bm-1")).status is SignatureStatus.VALID
    compact = base64.b64decode(signed["signature"]["data"]).decode()
    assert compact.count(".") == 2 and ".." in compact


def test_one_changed_byte_is_invalid() -> None:
    key = ECKey.generate_key("P-256")
    signed = sign_document(_document(), key, "bm-1")
    tampered = copy.deepcopy(signed)
    tampered["entry"][1]["resource"]["dosageInstruction"][0]["text"] = "Metformin 900 mg"
    check = verify_document(tampered, _trust(key, "bm-1"))
    assert check.status is SignatureStatus.INVALID
    assert check.reason


def test_unknown_kid_and_other_key() -> None:
    key = ECKey.generate_key("P-256")
    signed = sign_document(_document(), key, "someone-else")
    assert verify_document(signed, _trust(key, "bm-1")).status is SignatureStatus.UNKNOWN_SIGNER
    other = ECKey.generate_key("P-256")
    forged = sign_document(_document(), other, "bm-1")
    assert verify_document(forged, _trust(key, "bm-1")).status is SignatureStatus.INVALID


def test_unsigned_and_garbage_never_raise() -> None:
    key = ECKey.generate_key("P-256")
    trust = _trust(key, "bm-1")
    assert verify_document(_document(), trust).status is SignatureStatus.UNSIGNED
    garbage = _document() | {"signature": {"sigFormat": "application/jose", "data": "!!not base64"}}
    assert verify_document(garbage, trust).status is SignatureStatus.INVALID
    wrong = _document() | {"signature": {"sigFormat": "application/jose", "data": base64.b64encode(b"a.b").decode()}}
    assert verify_document(wrong, trust).status is SignatureStatus.INVALID
