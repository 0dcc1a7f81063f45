"""What every payload parser shares: the parse error, the text repairs cards need, and the card fields' readers.

Parsers answer with the domain's `ScanReading`; the dispatcher adds what only it knows to make the `ScanResult`.
"""

from __future__ import annotations

import datetime as dt
import re

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems, value_problem
from lookup.domain.model import Demographics, Identifier, Sex
from lookup.domain.text import fold, nfc, split_full_name


class PayloadError(ValueError):
    """A payload is not what its parser reads. The message says what is wrong and never repeats the payload."""


_BOM_AND_CONTROLS = re.compile(r"^[\ufeff\s\x00-\x1f]+|[\ufeff\s\x00-\x1f]+$")
# Characters that appear when UTF-8 bytes were read as Latin-1 or Windows-1252 ("Nguyá»…n").
_MOJIBAKE_MARKERS = re.compile(
    "[ÃÄÅÆá][\u0080-\u00bf\u2010-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u02c6\u02dc]"
)


def clean_text(text: str) -> str:
    """Strip a BOM, CR/LF and other control characters at the ends, repair mojibake, and NFC-normalise."""
    text = _BOM_AND_CONTROLS.sub("", text.replace("\ufeff", ""))
    return nfc(repair_mojibake(text))


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1 or Windows-1252, when the bytes round-trip exactly."""
    if not _MOJIBAKE_MARKERS.search(text):
        return text
    raw = bytearray()
    for char in text:
        # Windows-1252 leaves five bytes undefined; decoders pass those through as C1 controls, so fall back.
        try:
            raw += char.encode("cp1252")
        except UnicodeError:
            if ord(char) > 0xFF:
                return text
            raw.append(ord(char))
    try:
        return raw.decode("utf-8")
    except UnicodeError:
        return text


def parse_date(text: str, *, what: str) -> dt.date:
    """A card date: `ddmmyyyy` or `dd/mm/yyyy` (also with `-` or `.`)."""
    value = text.strip()
    match = re.fullmatch(r"([0-9]{2})[/.-]?([0-9]{2})[/.-]?([0-9]{4})", value)
    if match is None:
        raise PayloadError(f"the {what} is not a date in day-month-year form")
    day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise PayloadError(f"the {what} is not a real calendar date") from None


def parse_birth(text: str) -> tuple[dt.date | None, int | None]:
    """A birth date that may be a year alone (insurance cards of people whose day is unknown)."""
    value = text.strip()
    if re.fullmatch(r"[0-9]{4}", value):
        year = int(value)
        if not 1880 <= year <= 2100:
            raise PayloadError("the birth year is out of range")
        return None, year
    date = parse_date(value, what="birth date")
    if not 1880 <= date.year <= 2100:
        raise PayloadError("the birth year is out of range")
    return date, date.year


def card_holder(
    name: str, *, birth_date: dt.date | None, birth_year: int | None, sex: Sex, address: str | None
) -> Demographics:
    """The holder an ID or insurance card prints: the whole name (Vietnamese order), birth, sex and address."""
    family, middle, given = split_full_name(name)
    return Demographics(
        family=family,
        middle=middle,
        given=given,
        birth_date=birth_date,
        birth_year=birth_year,
        sex=sex,
        address=address,
    )


def parse_sex_word(text: str) -> Sex | None:
    folded = fold(text)
    if folded in {"nam", "male", "m"}:
        return Sex.MALE
    if folded in {"nu", "female", "f"}:
        return Sex.FEMALE
    return None


def identifier(kind: IdentifierKind, value: str, systems: IdentifierSystems = DEFAULT_TABLE) -> Identifier:
    """An identifier of a known kind; a value of the wrong shape is a parse error (without echoing the value)."""
    problem = value_problem(kind, value)
    if problem is not None:
        raise PayloadError(problem)
    return Identifier(system=systems.system(kind), value=value)


def cccd_digit_warnings(number: str, birth_year: int | None, sex: Sex | None) -> list[str]:
    """Check the personal ID number's structure: birth-province code, and its century/sex digit and birth year.

    The fourth digit codes century and sex (0/1 male/female 1900s, 2/3 2000s, 4/5 2100s, 6/7 2200s, 8/9 1800s),
    the next two the year within the century. A disagreement is a warning for the clerk, never silently accepted.
    """
    warnings: list[str] = []
    if not 1 <= int(number[:3]) <= 96:
        warnings.append("the ID number's birth-province code does not exist")
    code = int(number[3])
    century = {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}[code // 2]
    number_year = century + int(number[4:6])
    number_sex = Sex.MALE if code % 2 == 0 else Sex.FEMALE
    if birth_year is not None and birth_year != number_year:
        warnings.append("the ID number's century/sex digit and year do not agree with the birth year")
    if sex is not None and sex in (Sex.MALE, Sex.FEMALE) and sex != number_sex:
        warnings.append("the ID number's century/sex digit does not agree with the sex")
    if birth_year is None and number_year > dt.date.today().year:
        warnings.append("the ID number's birth year lies in the future")
    return warnings
