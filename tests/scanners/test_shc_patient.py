"""A signed health card's Patient is read by the one FHIR Patient reader: Vietnamese given names, known systems."""

from __future__ import annotations

import json
import zlib
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import ScanKind, SignatureStatus
from lookup.trust.trust_list import TrustList
from scanners.payloads.shc import parse_shc

ISSUER = "https://benhvien.example.vn/shc"
KID = "test-issuer-1"
_REGISTRY = jws.JWSRegistry(header_registry={"zip": HeaderParameter("Compression", "str")}, algorithms=["ES256"])


def _signed_card(key: ECKey, patient: dict[str, Any]) -> str:
    """The `shc:/` numeric QR text of a card carrying `patient`, signed by `key`."""
    claims = {
        "iss": ISSUER,
        "nbf": 1_750_000_000,
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"fullUrl": "resource:0", "resource": patient}],
                },
            },
        },
    }
    deflater = zlib.compressobj(wbits=-15)
    payload = deflater.compress(json.dumps(claims, separators=(",", ":")).encode()) + deflater.flush()
    header = {"alg": "ES256", "zip": "DEF", "kid": KID}
    token = jws.serialize_compact(header, payload, key, algorithms=["ES256"], registry=_REGISTRY)
    return "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in token)


def _trust(key: ECKey) -> TrustList:
    return TrustList.from_jwks({"keys": [key.as_dict(private=False) | {"kid": KID, "iss": ISSUER}]})


def test_vietnamese_given_names_read_last_given_as_the_given_name() -> None:
    key = ECKey.generate_key("P-256")
    cccd = DEFAULT_TABLE.system(IdentifierKind.CCCD)
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": cccd, "value": "079190000001"},
            {"system": "urn:example:unknown-system", "value": "X1"},
        ],
        "name": [{"family": "Nguyễn", "given": ["Văn", "An"]}],
        "gender": "male",
        "birthDate": "1990-05-17",
    }
    scanned = parse_shc(_signed_card(key, patient), _trust(key))
    assert scanned.kind is ScanKind.SHC
    assert scanned.signature.status is SignatureStatus.VALID
    d = scanned.demographics
    assert (d.family, d.middle, d.given) == ("Nguyễn", "Văn", "An")
    assert d.birth_date is not None and d.birth_date.isoformat() == "1990-05-17"
    # Only systems the scanner's table knows are lookup keys.
    assert [(i.system, i.value) for i in scanned.identifiers] == [(cccd, "079190000001")]
