"""A bare number, typed or read from a 1D barcode: the 12-digit personal ID, the old 9-digit ID card, or an insurance
number (the 10-digit BHXH number or a legacy 15-character BHYT card number)."""

from __future__ import annotations

import re

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
from lookup.domain.model import Identifier, ScanKind, ScanReading
from scanners.payloads.common import PayloadError, cccd_digit_warnings, clean_text, identifier

_SEPARATORS = re.compile(r"[\s.\-]")
_OLD_CARD = re.compile(r"[A-Z]{2}[1-5][0-9]{2}([0-9]{10})")


def parse_number(text: str, systems: IdentifierSystems = DEFAULT_TABLE) -> ScanReading:
    """Read a bare identifier number; spaces, dots and dashes between digit groups are ignored."""
    value = _SEPARATORS.sub("", clean_text(text)).upper()
    if not value:
        raise PayloadError("no number was given")
    if len(value) > 20:
        raise PayloadError(f"a number of {len(value)} characters is no known identifier")
    if value.isdecimal() and value.isascii():
        if len(value) == 12:
            return ScanReading(
                kind=ScanKind.PERSONAL_ID,
                identifiers=(identifier(IdentifierKind.CCCD, value, systems),),
                warnings=tuple(cccd_digit_warnings(value, None, None)),
            )
        if len(value) == 10:
            return ScanReading(
                kind=ScanKind.INSURANCE_NUMBER, identifiers=(identifier(IdentifierKind.BHYT, value, systems),)
            )
        if len(value) == 9:
            return ScanReading(
                kind=ScanKind.PERSONAL_ID, identifiers=(identifier(IdentifierKind.CMND, value, systems),)
            )
        raise PayloadError(f"a number of {len(value)} digits is no known identifier (9, 10 or 12 digits)")
    card = _OLD_CARD.fullmatch(value)
    if card is not None:
        ids: tuple[Identifier, ...] = (
            identifier(IdentifierKind.BHYT, card.group(1), systems),
            identifier(IdentifierKind.BHYT, value, systems),
        )
        return ScanReading(kind=ScanKind.INSURANCE_NUMBER, identifiers=ids)
    raise PayloadError("not an identifier number (digits, or two letters and 13 digits)")
