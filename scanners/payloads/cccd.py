"""The chip citizen ID card's QR (CCCD, thẻ căn cước) and the VNeID app's ID QR.

Layout (no official specification; reconstructed from public sources, see VN-FORMATS.md):
`ID12|CMND9 or empty|Full name|ddmmyyyy|Nam/Nữ|address|issue date ddmmyyyy[|more fields]`.
Accepted variants: an empty old-ID field, empty or extra trailing fields (2024 cards), dates written dd/mm/yyyy, and
the six-field form some phone scanners produce, which drops the old-ID field. Any further 9- or 12-digit value (an
old ID card or a cancelled personal ID number) becomes a former identifier, never the primary one.

The VNeID app shows the same layout; its electronic ID has no card issue date, so a payload with a well-formed
layout and no issue date is reported as `vneid`, one with an issue date as `cccd`.
"""

from __future__ import annotations

import re

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
from lookup.domain.model import Identifier, ScanKind, ScanReading
from scanners.payloads.common import (
    PayloadError,
    card_holder,
    cccd_digit_warnings,
    clean_text,
    identifier,
    parse_birth,
    parse_date,
    parse_sex_word,
)

_ID12 = re.compile(r"[0-9]{12}")
_ID9 = re.compile(r"[0-9]{9}")
_NAME = re.compile(r"[^\W\d_]+(?:[ '.-][^\W\d_]+)*")


def looks_like_cccd(text: str) -> bool:
    """A cheap test for the dispatcher: twelve digits, then a `|`."""
    return bool(re.match(r"\s*\ufeff?\s*[0-9]{12}\s*\|", text))


def parse_cccd(text: str, systems: IdentifierSystems = DEFAULT_TABLE) -> ScanReading:
    """Read a citizen ID card or VNeID QR; raises `PayloadError` when it is not one."""
    fields = [f.strip() for f in clean_text(text).split("|")]
    if len(fields) < 5:
        raise PayloadError(f"an ID card QR has at least 5 fields, this one has {len(fields)}")
    number = fields[0]
    if not _ID12.fullmatch(number):
        raise PayloadError("an ID card QR starts with the 12-digit personal ID number")
    rest = fields[1:]
    old_number: str | None = None
    if rest[0] == "" or (rest[0].isascii() and rest[0].isdecimal()):
        old_number = rest[0] or None
        rest = rest[1:]
    if len(rest) < 3:
        raise PayloadError("the ID card QR lacks the name, birth date or sex")
    name, birth_text, sex_text = " ".join(rest[0].split()), rest[1], rest[2]
    address = rest[3] if len(rest) > 3 else ""
    issued_text = rest[4] if len(rest) > 4 else ""
    extras = rest[5:]
    if not _NAME.fullmatch(name):
        raise PayloadError("the ID card QR's name field is not a name")
    birth_date, birth_year = parse_birth(birth_text)
    sex = parse_sex_word(sex_text)
    if sex is None:
        raise PayloadError("the ID card QR's sex field is neither Nam nor Nữ")
    warnings = cccd_digit_warnings(number, birth_year, sex)
    if issued_text:
        issued = parse_date(issued_text, what="card issue date")
        if birth_date is not None and issued < birth_date:
            warnings.append("the card issue date is before the birth date")

    former: list[Identifier] = []
    for value in ([old_number] if old_number else []) + extras:
        if _ID12.fullmatch(value) and value != number:
            former.append(identifier(IdentifierKind.CCCD, value, systems))
        elif _ID9.fullmatch(value):
            former.append(identifier(IdentifierKind.CMND, value, systems))
    return ScanReading(
        kind=ScanKind.CCCD if issued_text else ScanKind.VNEID,
        identifiers=(identifier(IdentifierKind.CCCD, number, systems),),
        former_identifiers=tuple(dict.fromkeys(former)),
        demographics=card_holder(name, birth_date=birth_date, birth_year=birth_year, sex=sex, address=address or None),
        warnings=tuple(warnings),
    )
