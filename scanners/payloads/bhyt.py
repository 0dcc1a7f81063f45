"""The health-insurance (BHYT) card's QR, on paper cards and in the VssID app.

`|`-separated; name and address are lower-case hex of their UTF-8 bytes; dates dd/mm/yyyy (a birth date may be a
year alone); `-` means empty; usually ends with a `16hex-4hex` checksum field (its algorithm is not public, so it is
not checked) and a final `$`. Field map: [0] card number, [1] name, [2] birth date or year, [3] sex (1 Nam, 2 Nữ),
[4] address or `-`, [5] primary-care facility, [6] valid from, [7] valid to, [8] issue date, [9] issuing office (4
digits) + BHXH number (10 digits), ...; new cards carry the address as a hex field near the end. Short old payloads
stop after the issue date. The card is keyed on the lifetime 10-digit BHXH number; an old 15-character card number
(group letters, benefit level, province, BHXH number) is kept as a second identifier. The validity dates and, on
old cards, the benefit level (1-5) become the reading's `insurance`; a validity date that cannot be read is left
unknown with a warning (the card still identifies its holder).
"""

from __future__ import annotations

import datetime as dt
import re

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
from lookup.domain.model import Eligibility, Identifier, ScanKind, ScanReading, Sex
from scanners.payloads.common import PayloadError, card_holder, clean_text, identifier, parse_birth, parse_date

_OLD_CARD = re.compile(r"([A-Z]{2})([1-5])([0-9]{2})([0-9A-Z]{10})")
_NEW_CARD = re.compile(r"[0-9]{10}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_CHECKSUM = re.compile(r"[0-9a-fA-F]{16}-[0-9a-fA-F]{4}")
_OFFICE_AND_NUMBER = re.compile(r"[0-9]{4}([0-9]{10})")


def looks_like_bhyt(text: str) -> bool:
    """A cheap test for the dispatcher: a card number, then a `|` and a hex field."""
    return bool(re.match(r"\s*\ufeff?\s*(?:[A-Z]{2}[0-9]{13}|[0-9]{10})\|[0-9a-fA-F]{4,}\|", text))


def _hex_text(value: str, what: str) -> str:
    if not _HEX.fullmatch(value):
        raise PayloadError(f"the insurance card's {what} is not hex-encoded")
    try:
        return clean_text(bytes.fromhex(value).decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError(f"the insurance card's {what} is not UTF-8 text") from None


def _validity(fields: list[str], at: int, what: str, warnings: list[str]) -> dt.date | None:
    """The validity date in field `at`; None when absent, `-` (open-ended) or unreadable (then with a warning)."""
    if len(fields) <= at or fields[at] in ("", "-"):
        return None
    try:
        return parse_date(fields[at], what=what)
    except PayloadError as exc:
        warnings.append(f"{exc}; the card's validity is not known from the card")
        return None


def parse_bhyt(text: str, systems: IdentifierSystems = DEFAULT_TABLE) -> ScanReading:
    """Read a BHYT card QR; raises `PayloadError` when it is not one."""
    fields = [f.strip() for f in clean_text(text).split("|")]
    if fields and fields[-1] == "$":
        fields.pop()
    if len(fields) < 4:
        raise PayloadError(f"an insurance card QR has at least 4 fields, this one has {len(fields)}")
    card = fields[0].upper()
    old = _OLD_CARD.fullmatch(card)
    if old is None and not _NEW_CARD.fullmatch(card):
        raise PayloadError("an insurance card QR starts with a 10-digit or 15-character card number")
    warnings: list[str] = []
    in_card = old.group(4) if old else card
    in_office = None
    if len(fields) > 9 and fields[9] not in ("", "-"):
        office = _OFFICE_AND_NUMBER.fullmatch(fields[9])
        if office is None:
            warnings.append("the insurance card's office-and-number field is malformed")
        else:
            in_office = office.group(1)
    if in_card.isdigit():
        bhxh = in_card
        if in_office is not None and in_office != bhxh:
            warnings.append("the insurance number in the card does not agree with the card number")
    elif in_office is not None:
        # Printed card numbers are sometimes masked; the office field still carries the number.
        bhxh = in_office
        warnings.append("the card number is masked; the insurance number comes from the issuing-office field")
    else:
        raise PayloadError("the insurance card QR carries no readable 10-digit insurance number")

    name = _hex_text(fields[1], "name")
    if not name or any(ch.isdigit() for ch in name):
        raise PayloadError("the insurance card's name field is not a name")
    birth_date, birth_year = parse_birth(fields[2])
    sex = {"1": Sex.MALE, "2": Sex.FEMALE}.get(fields[3])
    if sex is None:
        raise PayloadError("the insurance card's sex field is neither 1 nor 2")

    address: str | None = None
    if len(fields) > 4 and fields[4] not in ("", "-"):
        address = _hex_text(fields[4], "address")
    checksum_at = next((i for i, f in enumerate(fields) if _CHECKSUM.fullmatch(f)), None)
    if checksum_at is not None and address is None:
        # New cards put the address (hex) after the checksum.
        for later in fields[checksum_at + 1 :]:
            if len(later) >= 8 and _HEX.fullmatch(later):
                address = _hex_text(later, "address")
                break

    identifiers: list[Identifier] = [identifier(IdentifierKind.BHYT, bhxh, systems)]
    if old is not None and in_card.isdigit():
        identifiers.append(identifier(IdentifierKind.BHYT, card, systems))
    insurance = Eligibility(
        card_number=card,
        valid_from=_validity(fields, 6, "insurance card's valid-from date", warnings),
        valid_to=_validity(fields, 7, "insurance card's valid-to date", warnings),
        benefit_level=int(old.group(2)) if old is not None else None,
        source="card",
    )
    return ScanReading(
        kind=ScanKind.BHYT,
        identifiers=tuple(identifiers),
        demographics=card_holder(name, birth_date=birth_date, birth_year=birth_year, sex=sex, address=address),
        warnings=tuple(warnings),
        insurance=insurance,
    )
