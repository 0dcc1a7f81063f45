"""A signed health card's Patient is read by the one FHIR Patient reader: Vietnamese given names, known systems."""

from __future__ import annotations

from joserfc.jwk import ECKey

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import ScanKind, SignatureStatus
from lookup.trust.trust_list import TrustList
from scanners.payloads.shc import parse_shc
from testkit.health_cards import issuer_jwk, signed_card


def _trust(key: ECKey) -> TrustList:
    return TrustList.from_jwks({"keys": [issuer_jwk(key)]})


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
    scanned = parse_shc(signed_card(key, patient), _trust(key))
    assert scanned.kind is ScanKind.SHC
    assert scanned.signature.status is SignatureStatus.VALID
    d = scanned.demographics
    assert (d.family, d.middle, d.given) == ("Nguyễn", "Văn", "An")
    assert d.birth_date is not None and d.birth_date.isoformat() == "1990-05-17"
    # Only systems the scanner's table knows are lookup keys.
    assert [(i.system, i.value) for i in scanned.identifiers] == [(cccd, "079190000001")]
