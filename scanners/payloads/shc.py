"""SMART Health Cards: `shc:/` numeric QR payloads, multi-chunk reassembly, DEFLATE, offline ES256 verification.

A card is a compact JWS (ES256, header `zip: DEF`, `kid` = the issuer key's thumbprint) whose payload is raw-DEFLATE
JSON carrying `iss`, `nbf` and the FHIR bundle under `vc.credentialSubject.fhirBundle`. In a QR it is written as
`shc:/` + two digits per character (value - 45); a long card is split as `shc:/1/3/...`, `shc:/2/3/...`, and so on.

Verification uses only the pinned trust list: the key named by `kid` must be there, trusted for the card's `iss`, not
revoked, and not past its expiry at the card's `nbf` (`TrustedKey.refusal`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import zlib
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.registry import HeaderParameter

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierSystems
from lookup.domain.model import Demographics, Identifier, ScanKind, ScanReading, SignatureCheck, SignatureStatus
from lookup.fhir.patient import demographics_of, identifiers_of
from lookup.trust.trust_file import same_issuer
from lookup.trust.trust_list import TrustedKey, TrustList
from scanners.payloads.common import PayloadError

_SINGLE = re.compile(r"shc:/([0-9]+)")
_CHUNK = re.compile(r"shc:/([0-9]{1,2})/([0-9]{1,2})/([0-9]+)")
_MAX_INFLATED = 1 << 20
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far the kiosk's clock and the issuer's may disagree before `nbf` or `exp` makes a card invalid."""
# `zip` is a JWE header in RFC 7516; SMART Health Cards put it in the JWS header, so the registry must allow it.
_REGISTRY = jws.JWSRegistry(header_registry={"zip": HeaderParameter("Compression", "str")}, algorithms=["ES256"])


def looks_like_shc(text: str) -> bool:
    return text.strip().lower().startswith("shc:/")


def chunk_position(text: str) -> tuple[int, int] | None:
    """`(index, total)` of a chunk of a multi-part card, or None for a single-part card or anything else."""
    match = _CHUNK.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def numeric_to_jws(digits: str) -> str:
    if not re.fullmatch(r"[0-9]*", digits):
        raise PayloadError("a health card's numeric payload holds characters other than digits")
    if len(digits) % 2:
        raise PayloadError("a health card's numeric payload has an odd number of digits")
    chars = []
    for i in range(0, len(digits), 2):
        value = int(digits[i : i + 2])
        if value > 77:
            raise PayloadError("a health card's numeric payload has a pair of digits out of range")
        chars.append(chr(value + 45))
    return "".join(chars)


class ShcChunks:
    """Collects the parts of multi-part cards until one is complete. Parts may arrive in any order."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[int, str]] = {}

    def add(self, text: str) -> str | None:
        """Add one `shc:/i/n/...` part; returns the whole card's JWS once all `n` parts are in, else None."""
        match = _CHUNK.fullmatch(text.strip())
        if match is None:
            raise PayloadError("not a part of a multi-part health card")
        index, total = int(match.group(1)), int(match.group(2))
        if not 1 <= index <= total:
            raise PayloadError("a health card part number is out of range")
        parts = self._parts.setdefault(total, {})
        parts[index] = match.group(3)
        if len(parts) < total:
            return None
        del self._parts[total]
        return numeric_to_jws("".join(parts[i] for i in range(1, total + 1)))


def _b64(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise PayloadError(f"the health card's {what} is not base64url") from None


def _canonical(segment: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return False
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == segment


def _inflate(payload: bytes) -> dict[str, Any]:
    try:
        inflater = zlib.decompressobj(-15)
        raw = inflater.decompress(payload, _MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise PayloadError("the health card's payload inflates beyond the size limit")
        data = json.loads(raw)
    except (zlib.error, ValueError):
        raise PayloadError("the health card's payload is not DEFLATE-compressed JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("the health card's payload is not a JSON object")
    return data


def _check(token: str, kid: str, trust: TrustList | None) -> tuple[SignatureStatus, list[TrustedKey], str | None]:
    """Signature status, the trusted keys (pinned under `kid`) the signature verifies with, and a reason; which of
    them speaks for the card's `iss`, and whether it may at the card's time, is decided once `iss` is read."""
    candidates = trust.keys_for(kid) if trust is not None else []
    if not candidates:
        return SignatureStatus.UNKNOWN_SIGNER, [], "the card's key is not in the trust list"
    verified = []
    for candidate in candidates:
        try:
            jws.deserialize_compact(token, candidate.key, algorithms=["ES256"], registry=_REGISTRY)
        except JoseError:
            continue
        verified.append(candidate)
    if not verified:
        return SignatureStatus.INVALID, [], "the signature does not match the card's content"
    return SignatureStatus.VALID, verified, None


def verify_jws(
    token: str, trust: TrustList | None, systems: IdentifierSystems = DEFAULT_TABLE, *, now: dt.datetime | None = None
) -> ScanReading:
    """Check and read a card's compact JWS; `valid` needs a true signature and `now` inside the card's `nbf`..`exp`."""
    segments = token.strip().split(".")
    if len(segments) != 3 or not all(segments[:2]):
        raise PayloadError("a health card is a compact JWS of three parts")
    try:
        header: Any = json.loads(_b64(segments[0], "header"))
    except ValueError:
        raise PayloadError("the health card's header is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256" or not isinstance(header.get("kid"), str):
        raise PayloadError("the health card's header does not name ES256 and a key id")
    if segments[2]:
        status, verified, reason = _check(token, header["kid"], trust)
        if status is SignatureStatus.VALID and not all(_canonical(s) for s in segments):
            # Base64url leaves a few bits unused at the end of a segment: a changed character there must not pass.
            status, reason = SignatureStatus.INVALID, "the card's encoding has been altered"
    else:
        status, verified, reason = SignatureStatus.UNSIGNED, [], "the card carries no signature"
    try:
        claims = _inflate(_b64(segments[1], "payload")) if header.get("zip") == "DEF" else None
        if claims is None:
            claims = json.loads(_b64(segments[1], "payload"))
    except (PayloadError, ValueError):
        if status is SignatureStatus.INVALID:
            return ScanReading(
                kind=ScanKind.SHC,
                signature=SignatureCheck(status=status, reason=reason),
                warnings=("the health card is damaged or altered",),
            )
        raise PayloadError("the health card's payload cannot be read") from None
    if not isinstance(claims, dict):
        raise PayloadError("the health card's payload is not a JSON object")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise PayloadError("the health card names no issuer")
    if status is SignatureStatus.VALID:
        signer = next((k for k in verified if k.issuer is not None and same_issuer(k.issuer) == same_issuer(iss)), None)
        if signer is None:
            status, reason = (
                SignatureStatus.UNKNOWN_SIGNER,
                "the key that signed the card is trusted for another issuer",
            )
        else:
            refusal = signer.refusal(_timestamp(claims.get("nbf")))
            if refusal is not None:
                status, reason = SignatureStatus.INVALID, refusal
    warnings: list[str] = []
    untimely, expired = _untimely(claims, now or dt.datetime.now(dt.UTC))
    if expired:
        warnings.append("the health card has expired")
    if untimely is not None and status is SignatureStatus.VALID:
        # A true signature over a card outside its validity window proves nothing about today.
        status, reason = SignatureStatus.INVALID, untimely
    identifiers, demographics = _patient(claims, systems)
    return ScanReading(
        kind=ScanKind.SHC,
        identifiers=identifiers,
        demographics=demographics,
        signature=SignatureCheck(status=status, issuer=iss[:200], reason=reason),
        warnings=tuple(warnings),
    )


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return dt.datetime.max.replace(tzinfo=dt.UTC) if value > 0 else dt.datetime.min.replace(tzinfo=dt.UTC)


def _untimely(claims: dict[str, Any], now: dt.datetime) -> tuple[str | None, bool]:
    """Why the card is not valid now (`nbf` ahead or `exp` passed, beyond the clock skew), and whether it expired."""
    not_before = _timestamp(claims.get("nbf"))
    expires = _timestamp(claims.get("exp"))
    expired = expires is not None and expires < now - CLOCK_SKEW
    if not_before is not None and not_before > now + CLOCK_SKEW:
        return f"the card is not valid before {not_before:%Y-%m-%d %H:%M} UTC", expired
    if expires is not None and expired:
        return f"the card expired on {expires:%Y-%m-%d %H:%M} UTC", expired
    return None, expired


def _patient(claims: dict[str, Any], systems: IdentifierSystems) -> tuple[tuple[Identifier, ...], Demographics]:
    vc = claims.get("vc")
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    bundle = subject.get("fhirBundle") if isinstance(subject, dict) else None
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(entries, list):
        raise PayloadError("the health card carries no FHIR bundle")
    patient = next(
        (
            e["resource"]
            for e in entries
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Patient"
        ),
        None,
    )
    if patient is None:
        return (), Demographics()
    return identifiers_of(patient, systems), demographics_of(patient)


def parse_shc(
    text: str,
    trust: TrustList | None,
    systems: IdentifierSystems = DEFAULT_TABLE,
    chunks: ShcChunks | None = None,
) -> ScanReading:
    """Read a `shc:/` QR payload, or a part of one when `chunks` collects the parts.

    A part that does not yet complete its card gives an `shc` result with a warning and no identifiers.
    """
    stripped = text.strip()
    if chunk_position(stripped) is not None:
        if chunks is None:
            raise PayloadError("a part of a multi-part health card: all parts must be scanned together")
        token = chunks.add(stripped)
        if token is None:
            index, total = chunk_position(stripped) or (0, 0)
            return ScanReading(
                kind=ScanKind.SHC,
                warnings=(f"part {index} of {total} of a health card; scan the other parts",),
            )
        return verify_jws(token, trust, systems)
    match = _SINGLE.fullmatch(stripped)
    if match is None:
        raise PayloadError("not a SMART Health Card QR payload (shc:/ followed by digits)")
    return verify_jws(numeric_to_jws(match.group(1)), trust, systems)
