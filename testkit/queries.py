"""Queries as a clerk types them: synthetic people with one corruption each, for the matching tests and benchmarks.

The corruption model: dropped accents, one typo in the given name, day and month swapped, year of birth only, missing
middle name, old province name, no province.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

from lookup.domain.model import Demographics
from lookup.domain.text import fold
from sandbox.synthetic.population import SyntheticPerson

KINDS = ("accents", "typo", "swap", "year", "middle", "old_province", "no_province")
QUERY_SEED = 20250701
"""The seed of the draw of queries, so every run asks the same questions."""
OUTSIDERS = 0.1
"""The share of queries that name somebody outside the index."""


def typo(text: str, rng: random.Random) -> str:
    """One keyboard slip: a letter dropped, added, replaced, or two neighbours swapped."""
    letters = list(text)
    for _ in range(20):
        changed = letters.copy()
        op = rng.randrange(4)
        i = rng.randrange(len(changed))
        if op == 0 and len(changed) > 2:
            del changed[i]
        elif op == 1:
            changed.insert(i, rng.choice(string.ascii_lowercase))
        elif op == 2:
            changed[i] = rng.choice(string.ascii_lowercase)
        elif len(changed) > 1:
            j = min(i + 1, len(changed) - 1) if i + 1 < len(changed) else i - 1
            changed[i], changed[j] = changed[j], changed[i]
        result = "".join(changed)
        if result.strip() and result.lower() != text.lower():
            return result
    return text + "h"


def corrupt(person: SyntheticPerson, kind: str, rng: random.Random) -> Demographics:
    """The person as typed, with one corruption of the given kind."""
    family, middle, given = person.family, person.middle, person.given
    birth_date: dt.date | None = person.birth_date
    province: str | None = person.province
    if kind == "accents":
        family, given = fold(family), fold(given)
        middle = fold(middle) if middle else None
        province = fold(province)
    elif kind == "typo":
        given = typo(given, rng)
    elif kind == "swap":
        day, month = person.birth_date.day, person.birth_date.month
        birth_date = person.birth_date.replace(day=month, month=day)
    elif kind == "year":
        birth_date = None
    elif kind == "middle":
        middle = None
    elif kind == "old_province":
        province = person.card_province
    elif kind == "no_province":
        province = None
    return Demographics(
        family=family,
        middle=middle,
        given=given,
        birth_date=birth_date,
        birth_year=person.birth_date.year,
        sex=person.sex,
        province=province,
    )


def pick_kind(person: SyntheticPerson, rng: random.Random) -> str:
    """A corruption kind that can apply to this person: day and month only swap when the swap is a valid date."""
    while True:
        kind = rng.choice(KINDS)
        swappable = person.birth_date.day <= 12 and person.birth_date.day != person.birth_date.month
        if kind != "swap" or swappable:
            return kind


@dataclass(frozen=True)
class Query:
    """A typed query and who it is (None when that person is not in the index)."""

    demographics: Demographics
    truth: str | None
    kind: str


def make_queries(people: Sequence[SyntheticPerson], outsiders: Sequence[SyntheticPerson], count: int) -> list[Query]:
    """`count` corrupted queries, a share `OUTSIDERS` of them for people drawn from `outsiders`."""
    rng = random.Random(QUERY_SEED)
    queries = []
    for _ in range(count):
        outside = bool(outsiders) and rng.random() < OUTSIDERS
        person = rng.choice(outsiders) if outside else rng.choice(people)
        kind = pick_kind(person, rng)
        queries.append(Query(corrupt(person, kind, rng), None if outside else person.patient_id, kind))
    return queries
