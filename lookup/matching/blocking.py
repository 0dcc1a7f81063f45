"""Blocking keys: short normalised strings under which an offline store can file a person without reading them.

Stored under a keyed hash (a blind index), they let a cache find candidates for a demographic query by exact key
lookup, then decrypt only those and rank them with `rank`. Each key tolerates the common slips: accents and tone
placement (folded), sound-alike spellings of the given name (phonetic), a day/month swap (the day and month are
written in sorted order), and a missing birth date (family and given name alone).
"""

from __future__ import annotations

from lookup.domain.model import Demographics
from lookup.domain.text import fold
from lookup.matching.fields import fields_of
from lookup.matching.normalise import family_canonical, phonetic


def _keys(person: Demographics, years: tuple[int, ...]) -> list[str]:
    fields = fields_of(person)
    given = phonetic(fold(fields.name.given))
    family = family_canonical(fold(fields.name.family))
    keys: list[str] = []
    if given and fields.year:
        keys += [f"gy:{given}:{year}" for year in years]
    if fields.year and fields.month:
        low, high = sorted((fields.month, fields.day))
        keys.append(f"d:{fields.year:04d}{low:02d}{high:02d}")
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
