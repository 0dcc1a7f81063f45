"""Signing and checking facility documents: `Bundle.signature` holding a detached ES256 JWS.

The signed bytes are the RFC 8785 canonical JSON of the Bundle with `signature` removed, so any change to any field
(a dose, an allergy, a date) breaks the signature while re-serialising the JSON (key order, whitespace, number
spelling) does not. The JWS is compact with a detached payload (RFC 7515 appendix F: `header..signature`), its
header names the facility key by `kid`, and `Bundle.signature.data` is the standard base64 of that compact text.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

import rfc8785
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from lookup.domain.model import SignatureCheck, SignatureStatus
from lookup.trust.trust_list import TrustedKey, TrustList

SIGNATURE_TYPE: Final = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}
"""Author's signature (ASTM E1762)."""
SIG_FORMAT: Final = "application/jose"


def canonical_bytes(bundle: Mapping[str, Any]) -> bytes:
    """The bytes a document signature covers: RFC 8785 JSON of the Bundle without its `signature`."""
    unsigned = {name: value for name, value in bundle.items() if name != "signature"}
    data: bytes = rfc8785.dumps(unsigned)
    return data


def sign_document(
    bundle: dict[str, Any], key: ECKey, kid: str, *, facility: str | None = None, when: dt.datetime | None = None
) -> dict[str, Any]:
    """A copy of `bundle` with `Bundle.signature` set; `facility` is shown as the signer (the kid by default)."""
    signed = copy.deepcopy(bundle)
    signed.pop("signature", None)
    compact = jws.serialize_compact({"alg": "ES256", "kid": kid}, canonical_bytes(signed), key, algorithms=["ES256"])
    detached = jws.detach_content(compact)
    instant = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    signed["signature"] = {
        "type": [dict(SIGNATURE_TYPE)],
        "when": instant.isoformat().replace("+00:00", "Z"),
        "who": {"display": facility or kid},
        "sigFormat": SIG_FORMAT,
        "data": base64.b64encode(detached.encode("ascii")).decode("ascii"),
    }
    return signed


def _check(status: SignatureStatus, reason: str | None = None, issuer: str | None = None) -> SignatureCheck:
    return SignatureCheck(status=status, reason=reason, issuer=issuer)


def _compact_parts(data: str) -> tuple[dict[str, Any], str, str] | str:
    """(header, payload part, compact text), or why the signature data is unreadable."""
    try:
        compact = base64.b64decode(data.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return "the signature data is not base64 of a compact JWS"
    parts = compact.split(".")
    if len(parts) != 3:
        return "the signature data is not a compact JWS"
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError):
        return "the JWS header is unreadable"
    if not isinstance(header, dict):
        return "the JWS header is not a JSON object"
    return header, parts[1], compact


def verify_document(bundle: Mapping[str, Any], trust: TrustList) -> SignatureCheck:
    """Check a document's signature against the trust list. Never raises: every fault is a status.

    This is the cryptographic half: `valid` here means a trusted key signed these bytes. Whether that key belongs
    to the facility the document names is the other half, `lookup.service.binding.check_document`, which is what
    the lookup service calls for every document it shows."""
    return signature_and_key(bundle, trust)[0]


def signature_and_key(bundle: Mapping[str, Any], trust: TrustList) -> tuple[SignatureCheck, TrustedKey | None]:
    """The check of `verify_document`, and the trusted key that made the signature (None when no trusted key
    did). Never raises."""
    try:
        return _verify(bundle, trust)
    except Exception as exc:  # a malformed document is an `invalid` answer, never a crash of the caller
        return _check(SignatureStatus.INVALID, f"the signature cannot be checked ({type(exc).__name__})"), None


def _verify(bundle: Mapping[str, Any], trust: TrustList) -> tuple[SignatureCheck, TrustedKey | None]:
    signature = bundle.get("signature")
    if not isinstance(signature, Mapping) or not signature.get("data"):
        return _check(SignatureStatus.UNSIGNED, "the document carries no signature"), None
    if signature.get("sigFormat") != SIG_FORMAT:
        return _check(SignatureStatus.INVALID, "the signature format is not application/jose"), None
    data = signature.get("data")
    if not isinstance(data, str):
        return _check(SignatureStatus.INVALID, "the signature data is not text"), None
    parts = _compact_parts(data)
    if isinstance(parts, str):
        return _check(SignatureStatus.INVALID, parts), None
    header, payload_part, compact = parts
    if header.get("alg") != "ES256":
        return _check(SignatureStatus.INVALID, "the signature algorithm is not ES256"), None
    kid = header.get("kid")
    trusted = trust.document_key(kid) if isinstance(kid, str) else None
    if trusted is None:
        return _check(SignatureStatus.UNKNOWN_SIGNER, "the signing key is not in the trust list"), None
    content = canonical_bytes(bundle)
    try:
        if payload_part:
            # An attached payload must be exactly the canonical document, else the signature covers something else.
            result = jws.deserialize_compact(compact, trusted.key, algorithms=["ES256"])
            if result.payload != content:
                differs = "the signed content differs from the document"
                return _check(SignatureStatus.INVALID, differs, trusted.signer), None
        else:
            jws.deserialize_compact(compact, trusted.key, algorithms=["ES256"], payload=content)
    except (JoseError, ValueError) as exc:
        mismatch = f"the signature does not match ({type(exc).__name__})"
        return _check(SignatureStatus.INVALID, mismatch, trusted.signer), None
    # `when` is outside the signed bytes: it can move a document across its key's expiry, never past a revocation.
    refusal = trusted.refusal(_signed_at(signature.get("when")))
    if refusal is not None:
        return _check(SignatureStatus.INVALID, refusal, trusted.signer), None
    return _check(SignatureStatus.VALID, issuer=trusted.signer), trusted


def _signed_at(when: object) -> dt.datetime | None:
    """`Bundle.signature.when` as an aware instant, or None when absent or unreadable (naive times are UTC)."""
    if not isinstance(when, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant
