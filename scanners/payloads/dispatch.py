"""Pick the parser for a code's text, and make its `ScanReading` the `ScanResult` of a scan."""

from __future__ import annotations

import re

from pydantic import ValidationError

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierSystems
from lookup.domain.model import ScanKind, ScanReading, ScanResult
from lookup.trust.trust_list import TrustList
from scanners.payloads.bhyt import looks_like_bhyt, parse_bhyt
from scanners.payloads.cccd import looks_like_cccd, parse_cccd
from scanners.payloads.common import PayloadError, clean_text
from scanners.payloads.numbers import parse_number
from scanners.payloads.shc import ShcChunks, looks_like_shc, parse_shc
from scanners.payloads.shl import looks_like_shl, parse_shl
from scanners.payloads.temporary import looks_like_temporary, parse_temporary

_NUMBERISH = re.compile(r"[0-9A-Za-z .\-]{6,24}")
MAX_TEXT = 8192
"""Longer texts are not parsed (a QR holds at most 7,089 digits; a split health card is read part by part)."""


def parse_payload(
    text: str,
    *,
    trust: TrustList | None = None,
    systems: IdentifierSystems = DEFAULT_TABLE,
    chunks: ShcChunks | None = None,
) -> ScanReading:
    """Parse any supported payload; raises `PayloadError` for text that no parser reads."""
    try:
        return _parse(text, trust, systems, chunks)
    except ValidationError as exc:
        # A field that parsed but does not fit the domain model (a birth year out of range, say).
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})) or "a field"
        raise PayloadError(f"the code's {fields} is out of range") from None


def _parse(text: str, trust: TrustList | None, systems: IdentifierSystems, chunks: ShcChunks | None) -> ScanReading:
    if len(text) > MAX_TEXT:
        raise PayloadError(f"a code of {len(text)} characters is longer than any supported payload")
    cleaned = clean_text(text)
    if not cleaned:
        raise PayloadError("the code is empty")
    if looks_like_shc(cleaned):
        return parse_shc(cleaned, trust, systems, chunks)
    if looks_like_shl(cleaned):
        return parse_shl(cleaned)
    if looks_like_cccd(cleaned):
        return parse_cccd(cleaned, systems)
    if looks_like_bhyt(cleaned):
        return parse_bhyt(cleaned, systems)
    if looks_like_temporary(cleaned):
        return parse_temporary(cleaned, systems)
    if _NUMBERISH.fullmatch(cleaned):
        return parse_number(cleaned, systems)
    raise PayloadError("the code is none of the supported identity payloads")


def interpret(
    text: str,
    *,
    format: str = "text",
    decoder: str = "keyboard",
    trust: TrustList | None = None,
    systems: IdentifierSystems = DEFAULT_TABLE,
    chunks: ShcChunks | None = None,
) -> ScanResult:
    """The `ScanResult` for a decoded or typed text; never raises.

    Text no parser reads becomes kind `unknown` with the parse error's message as a warning, so the clerk sees why.
    """
    try:
        reading = parse_payload(text, trust=trust, systems=systems, chunks=chunks)
    except PayloadError as exc:
        reading = ScanReading(kind=ScanKind.UNKNOWN, warnings=(str(exc),))
    return ScanResult.of(reading, format=format, text=clean_text(text[:MAX_TEXT]), decoder=decoder)
