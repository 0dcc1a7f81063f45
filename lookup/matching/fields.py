"""From `Demographics` to the handful of normalised fields the engine compares.

Names arrive split in many ways: the whole name in one box, the middle name inside the family or given box, or in
Western order. Vietnamese order (family first, given last) is assumed; the engine later swaps family and given
when the typed family name is unknown as one but known as a given name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lookup.domain.model import Demographics, Sex
from lookup.domain.provinces import current_province
from lookup.domain.text import fold, nfc, phone_number, split_full_name
from lookup.matching.normalise import address_signature

SEX_CODES = {Sex.MALE: 1, Sex.FEMALE: 2, Sex.OTHER: 3}
"""`unknown` and absent are both 0: they say nothing."""


@dataclass(frozen=True, slots=True)
class NameParts:
    """A name split into its three parts (NFC text, empty when unknown)."""

    family: str
    middle: str
    given: str

    def swapped(self) -> NameParts:
        """Western order read back: what was typed as the family name is the given name."""
        return NameParts(family=self.given, middle=self.middle, given=self.family)


@dataclass(frozen=True, slots=True)
class Fields:
    """What the engine compares of one person; 0 and "" mean unknown."""

    name: NameParts
    year: int
    month: int
    day: int
    sex: int
    province: str
    phone: int
    address: int
    """SimHash of the address text, 0 when absent."""


def _words(text: str | None) -> list[str]:
    return nfc(text).split() if text else []


def _whole_name(words: list[str], middle_box: list[str]) -> NameParts:
    """A whole name typed into one box, split in Vietnamese order; a middle name typed separately goes last."""
    family, middle, given = split_full_name(" ".join(words))
    return NameParts(family=family or "", middle=" ".join([*_words(middle), *middle_box]), given=given or "")


def split_name(person: Demographics) -> NameParts:
    family, middle, given = _words(person.family), _words(person.middle), _words(person.given)
    if not family and not given:
        return _whole_name(middle, [])
    if not given and len(family) >= 2:
        # The whole name in the family box.
        return _whole_name(family, middle)
    if not family and len(given) >= 2 and not middle:
        # The whole name in the given box, Vietnamese order.
        return _whole_name(given, [])
    if len(family) >= 2 and not middle:
        family, middle = family[:1], family[1:]
    if len(given) >= 2 and not middle:
        middle, given = given[:-1], given[-1:]
    return NameParts(family=" ".join(family), middle=" ".join(middle), given=" ".join(given))


@lru_cache(maxsize=4096)
def _province_of(text: str) -> str:
    found = current_province(text)
    return f"vn{found.code}" if found is not None else ""


def province_key(person: Demographics) -> str:
    """The current province's code when one is named (old or new name, or inside the address), else folded text."""
    if person.province:
        return _province_of(person.province) or fold(person.province)
    if person.address:
        return _province_of(person.address)
    return ""


def _address_signature(person: Demographics) -> int:
    """The address's signature, unless the address is no more than a province name (FHIR `address.state` alone)."""
    if not person.address:
        return 0
    folded = fold(person.address)
    if person.province and folded == fold(person.province):
        return 0
    if len(folded.split()) <= 4 and _province_of(person.address):
        return 0
    return address_signature(person.address)


def fields_of(person: Demographics) -> Fields:
    date = person.birth_date
    return Fields(
        name=split_name(person),
        year=person.birth_year or 0,
        month=date.month if date else 0,
        day=date.day if date else 0,
        sex=SEX_CODES.get(person.sex, 0) if person.sex else 0,
        province=province_key(person),
        phone=phone_number(person.phone),
        address=_address_signature(person),
    )
