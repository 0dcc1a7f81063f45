"""SMART Health Cards made on the spot: signed by a key of the test's own, for a Patient of its choosing, and
the same card altered, as a forger would. Tests and benchmarks use these; the product never does."""

from __future__ import annotations

import json
import zlib
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

ISSUER = "https://benhvien.example.vn/shc"
KID = "test-issuer-1"
_REGISTRY = jws.JWSRegistry(header_registry={"zip": HeaderParameter("Compression", "str")}, algorithms=["ES256"])


def issuer_jwk(key: ECKey, *, kid: str = KID, issuer: str = ISSUER) -> dict[str, Any]:
    """The public key as a trust-list entry of a card issuer."""
    return key.as_dict(private=False) | {"kid": kid, "iss": issuer}


def signed_card(
    key: ECKey,
    patient: dict[str, Any],
    *,
    nbf: float = 1_750_000_000,
    exp: float | None = None,
    kid: str = KID,
    issuer: str = ISSUER,
) -> str:
    """The `shc:/` numeric QR text of a card carrying `patient`, signed by `key`."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "nbf": nbf,
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
    if exp is not None:
        claims["exp"] = exp
    deflater = zlib.compressobj(wbits=-15)
    payload = deflater.compress(json.dumps(claims, separators=(",", ":")).encode()) + deflater.flush()
    header = {"alg": "ES256", "zip": "DEF", "kid": kid}
    token = jws.serialize_compact(header, payload, key, algorithms=["ES256"], registry=_REGISTRY)
    return numeric(token)


def numeric(token: str) -> str:
    """A compact JWS as the digits of a `shc:/` QR code."""
    return "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in token)


def _token(card: str) -> str:
    digits = card.removeprefix("shc:/")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def tampered(card: str) -> str:
    """The same card with its signature's last bytes changed: the content still reads, the signature fails."""
    header, payload, signature = _token(card).split(".")
    flipped = signature[:-8] + ("A" if signature[-8] != "A" else "B") + signature[-7:]
    return numeric(f"{header}.{payload}.{flipped}")


def stripped(card: str) -> str:
    """The same card with no signature at all."""
    header, payload, _ = _token(card).split(".")
    return numeric(f"{header}.{payload}.")
