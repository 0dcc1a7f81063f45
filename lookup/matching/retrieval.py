"""Candidate retrieval: everyone sharing at least one block with the query.

Retrieval never relies on one exact key. The query's names are resolved against the vocabularies with their typo
and sound-alike neighbours (`prepare`), and candidates are the union of blocks:
- (given name, birth year), and the neighbouring years when those blocks are small; with a full birth date, a large
  block is cut to those sharing the day or the month;
- the birth date, day and month in sorted order (a swap lands in the same block): it catches any misspelt name;
- without a full date, (neighbour of the given name, birth year) for typos;
- (family name, given name) pairs, family name and birth year, and everyone with a rare family or given name, each
  when small;
- the phone number, and a near-identical address (one of four 16-bit bands of its signature equal, or one bit
  apart).
When one of the typed names is nobody's, the names are also tried the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from lookup.matching.index import EMPTY, Frozen, People, address_band, date_key, name_pair_key, name_year_key
from lookup.matching.scoring import PreparedName, PreparedQuery

_SMALL = 400
"""A block reached only by a looser key (a neighbouring year, the family name, a rare name) is read when it is no
larger than this; larger ones add more time and noise than recall."""
_NO_YEAR_LIMIT = 200_000
"""Most candidates scored for a query without any birth year."""
_BOTH_MISSPELT = 10
"""Neighbours of the given name paired with each neighbour of the family name when neither name is known."""
_ONE_BIT_FLIPS = np.array([0] + [1 << bit for bit in range(16)], dtype=np.int64)
_ADDRESS_BLOCK = 64
"""An address band shared by more people than this is boilerplate (`Phường`, `Tỉnh`), not a shared address."""


def _sharing_date_parts(frozen: Frozen, people: People, query: PreparedQuery) -> People:
    """Of a large same-name-and-year block, those whose birth date shares the day or the month with the query's.

    Among a million people one common given name born in one year is over a thousand people; with a full date in
    the query, those agreeing on neither day nor month (either way round) cannot win and are not worth scoring.
    """
    if query.month <= 0 or len(people) <= _SMALL:
        return people
    month, day = frozen.month[people], frozen.day[people]
    wanted = (query.month, query.day)
    keep = (month <= 0) | np.isin(month, wanted) | np.isin(day, wanted)
    return people[keep]


def _next_years(query: PreparedQuery) -> tuple[int, int]:
    return (query.year - 1, query.year + 1)


def _ints(values: Iterable[int]) -> npt.NDArray[np.int64]:
    return np.fromiter(values, dtype=np.int64)


def candidates(frozen: Frozen, query: PreparedQuery) -> People:
    """Everyone sharing a block with the query (see the module docstring)."""
    parts = _name_blocks(frozen, query, query.given, query.family)
    if query.reversed_names is not None:
        parts += _name_blocks(frozen, query, *query.reversed_names)
    if query.year > 0 and query.month > 0:
        parts += frozen.by_date.gather(_ints([date_key(query.year, query.month, query.day)]))
    if query.phone:
        parts += frozen.by_phone.gather(_ints([query.phone]))
    if query.address:
        # Multi-probe: each band as it is and with any one of its bits flipped.
        signature = np.array([query.address], dtype=np.int64)
        for band, block in enumerate(frozen.by_address):
            probes = address_band(signature, band)[0] ^ _ONE_BIT_FLIPS
            parts += block.gather(probes, _ADDRESS_BLOCK)
    if not parts and query.family.name_id >= 0:
        family = query.family.name_id
        parts.append(frozen.by_family_year.key_range(family << 9, (family + 1) << 9)[:_NO_YEAR_LIMIT])
    if not parts:
        return EMPTY
    return np.unique(np.concatenate(parts))


def _name_blocks(frozen: Frozen, query: PreparedQuery, given: PreparedName, family: PreparedName) -> list[People]:
    exact_given = [given.name_id] if given.name_id >= 0 else []
    close_given = given.close_ids.tolist()
    family_ids = ([family.name_id] if family.name_id >= 0 else []) + family.close_ids.tolist()[:8]
    parts: list[People] = []
    if query.year > 0:
        block = frozen.by_given_year
        same_year = block.gather(_ints(name_year_key(g, y) for g in exact_given for y in (0, query.year)))
        parts += [_sharing_date_parts(frozen, found, query) for found in same_year]
        parts += block.gather(_ints(name_year_key(g, y) for g in exact_given for y in _next_years(query)), _SMALL)
        if query.month <= 0 or not exact_given:
            # Without a full date (whose own block catches any misspelt name), a typo needs the neighbours.
            parts += block.gather(_ints(name_year_key(g, query.year) for g in close_given))
        if family.name_id >= 0:
            family_years = _ints(name_year_key(family.name_id, y) for y in (0, query.year))
            parts += frozen.by_family_year.gather(family_years, _SMALL // 4)
    else:
        budget = _NO_YEAR_LIMIT
        for name_id in exact_given + close_given:
            found = frozen.by_given_year.key_range(name_id << 9, (name_id + 1) << 9)
            if len(found) > budget:
                break
            budget -= len(found)
            parts.append(found)
    # A rare name finds its bearer even when every other field was mistyped.
    for index, name in ((frozen.by_family_year, family.name_id), (frozen.by_given_year, given.name_id)):
        if name >= 0:
            found = index.key_range(name << 9, (name + 1) << 9)
            if len(found) <= _SMALL:
                parts.append(found)
    exact_family = family_ids[:1] if family.name_id >= 0 else []
    pairs = _ints(
        [name_pair_key(f, g) for f in exact_family for g in exact_given + close_given]
        + [name_pair_key(f, g) for f in family_ids for g in exact_given or close_given[:_BOTH_MISSPELT]]
    )
    parts += frozen.by_names.gather(pairs, _SMALL if query.year > 0 else _NO_YEAR_LIMIT)
    return parts
