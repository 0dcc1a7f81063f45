"""Blocking keys: short normalised strings under which an offline store can file a person without reading them.

Stored under a keyed hash (a blind index), they let a cache find candidates for a demographic query by exact key
lookup, then decrypt only those and rank them with `rank`. Each key tolerates the common slips: accents and tone
placement (folded), sound-alike spellings of the given name (phonetic), a day/month swap (the day and month are
written in sorted order), and a missing birth date (family and given name alone).

`pairing_keys` are narrower: two records of one person share one of them, two namesakes born on other days do not,
so the duplicate finder compares only records that share one (`lookup.service.duplicate_pairs`).
"""

from __future__ import annotations

from lookup.domain.model import Demographics
from lookup.domain.text import fold
from lookup.matching.fields import fields_of, split_name
from lookup.matching.normalise import family_canonical, phonetic


def _date(year: int, month: int, day: int) -> str:
    """A birth date with its day and month in sorted order, so a swapped one gives the same key."""
    low, high = sorted((month, day))
    return f"{year:04d}{low:02d}{high:02d}"


def _keys(person: Demographics, years: tuple[int, ...]) -> list[str]:
    fields = fields_of(person)
    given = phonetic(fold(fields.name.given))
    family = family_canonical(fold(fields.name.family))
    keys: list[str] = []
    if given and fields.year:
        keys += [f"gy:{given}:{year}" for year in years]
    if fields.year and fields.month:
        keys.append(f"d:{_date(fields.year, fields.month, fields.day)}")
    if family and given:
        keys.append(f"fg:{family}:{given}")
    if fields.phone:
        keys.append(f"p:{fields.phone}")
    return keys


def blocking_keys(person: Demographics) -> list[str]:
    """The keys to file a person under (and, for an exact-year search, to look a query up by)."""
    return _keys(person, (person.birth_year,) if person.birth_year else ())


def query_blocking_keys(query: Demographics) -> list[str]:
    """The keys to look a query up by, widened to the neighbouring birth years."""
    year = query.birth_year
    return _keys(query, (year - 1, year, year + 1) if year else ())


def neighbour_keys(person: Demographics) -> list[str]:
    """Among a person's `blocking_keys`, those their possible duplicates are filed under too: the birth date, or
    without a whole one the given name and birth year."""
    keys = blocking_keys(person)
    dated = [key for key in keys if key.startswith("d:")]
    return dated or [key for key in keys if key.startswith("gy:")]


def pairing_keys(person: Demographics) -> list[str]:
    """The keys two records of one person share: family and given name with the birth date (`fgd:`), given and
    middle name with the birth date (`gmd:`, the family name mistyped), and the whole name with the birth year
    (`ny:`, for a record that knows only the year). Names are folded, the given name by its sound; the day and month
    in either order. A record with no name or no birth year has none."""
    name = split_name(person)
    given = phonetic(fold(name.given))
    family = family_canonical(fold(name.family))
    middle = fold(name.middle)
    year = person.birth_year
    if not given or not year:
        return []
    keys: list[str] = []
    date = person.birth_date
    if date is not None:
        day = _date(date.year, date.month, date.day)
        if family:
            keys.append(f"fgd:{family}:{given}:{day}")
        keys.append(f"gmd:{given}:{middle}:{day}")
    if family:
        keys.append(f"ny:{family}:{middle}:{given}:{year}")
    return keys
