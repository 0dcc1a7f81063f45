"""A deterministic synthetic Vietnamese population, generated household by household.

People come in households that share an address, a phone and (for children) a family name; a few percent are
twins (same birth date, same household, different given names), the hard case for matching. Addresses name the
old 63-unit province as a card issued before July 2025 prints it (a tenth use the new two-level form); `province` is
always the current 34-unit name. Personal ID numbers carry the birth-registration province code, the century-and-sex
digit and the birth year, and are unique within the population, as are the 10-digit BHXH numbers.

Ages are counted back from a fixed reference date, not today, so a seed always gives the same people.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final, Generic, TypeVar

from lookup.domain.model import Demographics, Sex
from lookup.domain.provinces import OLD_PROVINCES_BY_CODE, OldProvince
from sandbox.synthetic import names

REFERENCE_DATE: Final = dt.date(2025, 7, 1)
_MOBILE_PREFIXES: Final = ("90", "91", "93", "94", "96", "97", "98", "86", "88", "89", "32", "33", "34", "35")
_MOBILE_PREFIXES_MORE: Final = ("36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82", "83", "84", "85")
_MOBILE: Final = _MOBILE_PREFIXES + _MOBILE_PREFIXES_MORE
_T = TypeVar("_T")


class _Picker(Generic[_T]):
    """Weighted choice with one `random()` call and a bisection: `random.choices` is slower per draw."""

    def __init__(self, items: Sequence[tuple[_T, float]]) -> None:
        self.items = [item for item, _ in items]
        self.cum = list(accumulate(weight for _, weight in items))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> _T:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def _zipf(words: Sequence[str], exponent: float = 0.8) -> list[tuple[str, float]]:
    return [(word, 1.0 / (rank + 1) ** exponent) for rank, word in enumerate(words)]


_FAMILY: Final = _Picker(names.FAMILY)
_MIDDLE = {Sex.MALE: _Picker(names.MIDDLE_MALE), Sex.FEMALE: _Picker(names.MIDDLE_FEMALE)}
_GIVEN = {Sex.MALE: _Picker(_zipf(names.GIVEN_MALE)), Sex.FEMALE: _Picker(_zipf(names.GIVEN_FEMALE))}
_PROVINCE: Final = _Picker([(OLD_PROVINCES_BY_CODE[code], w) for code, w in names.OLD_PROVINCE_WEIGHTS.items()])
_HOUSEHOLD_SIZE: Final = _Picker([(1, 18.0), (2, 24.0), (3, 24.0), (4, 22.0), (5, 12.0)])
_SOUTHERN_VARIANT: Final = {"Hoàng": "Huỳnh", "Vũ": "Võ"}


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """One synthetic person; `index` is their position in the generated sequence (Patient id `p{index}`)."""

    index: int
    family: str
    middle: str | None
    given: str
    sex: Sex
    birth_date: dt.date
    province: str
    """Current (34-unit) province name."""
    card_province: str
    """Old (63-unit) province name, as the address on a pre-2025 card shows it (without "Tỉnh"/"Thành phố")."""
    address: str
    cccd: str
    bhxh: str
    phone: str | None
    household: int

    @property
    def patient_id(self) -> str:
        return f"p{self.index}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family, self.middle, self.given) if part)

    def demographics(self) -> Demographics:
        return Demographics(
            family=self.family,
            middle=self.middle,
            given=self.given,
            birth_date=self.birth_date,
            sex=self.sex,
            address=self.address,
            province=self.province,
            phone=self.phone,
        )


def cccd_number(birth_province: OldProvince, birth_date: dt.date, sex: Sex, serial: int) -> str:
    """A personal ID number: province of birth registration, century-and-sex digit, year, six-digit serial."""
    century = (birth_date.year // 100 - 19) * 2 + (1 if sex is Sex.FEMALE else 0)
    return f"{birth_province.cccd_code}{century}{birth_date.year % 100:02d}{serial % 1_000_000:06d}"


class _Household:
    """What members of one household share."""

    def __init__(self, rng: random.Random, number: int) -> None:
        self.number = number
        self.province = _PROVINCE(rng)
        self.family = _family_name(rng, self.province)
        self.phone = f"0{rng.choice(_MOBILE)}{rng.randrange(10_000_000):07d}"
        self.address = _address(rng, self.province)


def _family_name(rng: random.Random, province: OldProvince) -> str:
    family = _FAMILY(rng)
    if int(province.code) >= names.SOUTHERN_FROM_CODE and family in _SOUTHERN_VARIANT and rng.random() < 0.6:
        return _SOUTHERN_VARIANT[family]
    return family


def _address(rng: random.Random, province: OldProvince) -> str:
    number = f"Số {rng.randrange(1, 400)}"
    if rng.random() < 0.3:
        number += f"/{rng.randrange(1, 60)}"
    street = f"đường {rng.choice(names.STREET_NAMES)}"
    ward_name = rng.choice(names.WARD_WORDS)
    if rng.random() < 0.1:
        # A card issued after the 2025 merger: commune and current province only.
        current = province.current
        ward = f"{'Phường' if current.city or rng.random() < 0.5 else 'Xã'} {ward_name}"
        return f"{number}, {street}, {ward}, {current.full_name}"
    urban = province.city or rng.random() < 0.4
    if urban:
        ward = f"Phường {rng.randrange(1, 16)}" if rng.random() < 0.3 else f"Phường {ward_name}"
        district = f"Quận {rng.choice(names.WARD_WORDS)}" if province.city else f"Thành phố {province.name}"
    else:
        ward = f"Xã {ward_name}"
        district = f"Huyện {rng.choice(names.WARD_WORDS)}"
    return f"{number}, {street}, {ward}, {district}, {province.full_name}"


def _birth_date(rng: random.Random, age_years: int) -> dt.date:
    days = age_years * 365 + rng.randrange(365)
    return REFERENCE_DATE - dt.timedelta(days=days)


def _given(rng: random.Random, sex: Sex, avoid: str | None = None) -> str:
    given = _GIVEN[sex](rng)
    while given == avoid:
        given = _GIVEN[sex](rng)
    return given


def _middle(rng: random.Random, sex: Sex) -> str | None:
    return None if rng.random() < 0.03 else _MIDDLE[sex](rng)


def _sex(rng: random.Random) -> Sex:
    return Sex.MALE if rng.random() < 0.5 else Sex.FEMALE


def generate_people(n: int, seed: int) -> Iterator[SyntheticPerson]:
    """`n` people, the same ones for the same seed; a prefix of a larger population is the smaller one."""
    rng = random.Random(seed)
    index = 0
    household_number = 0
    while index < n:
        home = _Household(rng, household_number)
        household_number += 1
        size = _HOUSEHOLD_SIZE(rng)
        head_age = 22 + int(rng.random() ** 1.3 * 63)
        members: list[tuple[Sex, str, int, dt.date | None]] = []  # sex, family, age, shared birth date
        head_sex = _sex(rng)
        members.append((head_sex, home.family, head_age, None))
        if size >= 2:
            spouse_sex = Sex.FEMALE if head_sex is Sex.MALE else Sex.MALE
            spouse_age = max(20, head_age + rng.randrange(-6, 7))
            members.append((spouse_sex, _family_name(rng, home.province), spouse_age, None))
        children = size - len(members)
        twin_born: dt.date | None = None
        if children >= 2 and rng.random() < 0.12 and head_age >= 20:
            twin_age = max(0, head_age - rng.randrange(20, 36))
            twin_born = _birth_date(rng, twin_age)
        for child in range(children):
            age = max(0, head_age - rng.randrange(20, 36))
            shared = twin_born if child < 2 else None
            members.append((_sex(rng), home.family, age, shared))
        previous_given: str | None = None
        for sex, family, age, shared in members:
            if index >= n:
                break
            birth_date = shared or _birth_date(rng, age)
            given = _given(rng, sex, previous_given if shared else None)
            previous_given = given
            birth_province = home.province if rng.random() < 0.85 else _PROVINCE(rng)
            serial = index * 7919 + seed * 104_729
            yield SyntheticPerson(
                index=index,
                family=family,
                middle=_middle(rng, sex),
                given=given,
                sex=sex,
                birth_date=birth_date,
                province=home.province.current.name,
                card_province=home.province.name,
                address=home.address,
                cccd=cccd_number(birth_province, birth_date, sex, serial),
                bhxh=f"{home.province.code}{(index * 7907 + seed * 7) % 100_000_000:08d}",
                phone=home.phone if shared or rng.random() < 0.85 else None,
                household=home.number,
            )
            index += 1


def person_at(index: int, seed: int) -> SyntheticPerson:
    """Person `index` of the population of `seed` (regenerates the prefix: for tests, not for hot paths)."""
    for person in generate_people(index + 1, seed):
        if person.index == index:
            return person
    raise IndexError(index)


__all__ = ["REFERENCE_DATE", "SyntheticPerson", "cccd_number", "generate_people", "person_at"]
