"""Agreement levels and Fellegi-Sunter scores of one query against many candidates at once (numpy, no loops).

A candidate's score is the sum over fields of log2(m/u) for the level that field reached: a log-likelihood ratio in
bits. Missing fields (on either side) add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lookup.matching.index import Frozen, People
from lookup.matching.weights import (
    ADDRESS_BITS,
    LEVELS,
    AddressLevel,
    BirthLevel,
    FlagLevel,
    NameLevel,
    WeightTable,
)

Levels = npt.NDArray[np.int8]
Bits = npt.NDArray[np.float64]
_NO_VARIANTS = np.zeros(256, dtype=bool)


@dataclass(frozen=True, slots=True)
class PreparedName:
    """One name of the query, resolved against its vocabulary."""

    folded: str
    name_id: int
    """-1 when the folded name is unknown to the vocabulary (nobody has it)."""
    close_ids: npt.NDArray[np.int32]
    agreeing_variants: npt.NDArray[np.bool_] = field(default_factory=lambda: _NO_VARIANTS)
    """Indexed by variant number: whether that spelling agrees with the query's accents."""

    @property
    def present(self) -> bool:
        return bool(self.folded)


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A query ready to compare: names resolved, the rest as integers (0 or "" = unknown)."""

    given: PreparedName
    family: PreparedName
    middle: PreparedName
    year: int
    month: int
    day: int
    sex: int
    province: int
    """-1 when the query names a province nobody in the index lives in."""
    phone: int
    address: int
    reversed_names: tuple[PreparedName, PreparedName] | None = None
    """(given, family) read the other way round, when both were typed: the two boxes are often swapped."""


def name_levels(ids: npt.NDArray[np.int32], variants: npt.NDArray[np.uint8], name: PreparedName) -> Levels:
    if not name.present:
        return np.zeros(len(ids), dtype=np.int8)
    levels = np.full(len(ids), NameLevel.DIFFERS, dtype=np.int8)
    if len(name.close_ids):
        # A per-vocabulary lookup table is cheaper than a set test per person.
        table = np.full(int(name.close_ids.max()) + 2, NameLevel.DIFFERS, dtype=np.int8)
        table[name.close_ids] = NameLevel.CLOSE
        levels = table[np.minimum(ids, len(table) - 1)]
    if name.name_id >= 0:
        same = ids == name.name_id
        agree = name.agreeing_variants[variants]
        levels[same & agree] = NameLevel.EXACT
        levels[same & ~agree] = NameLevel.ACCENT
    levels[ids == 0] = NameLevel.MISSING
    return levels


def birth_levels(frozen: Frozen, people: People, query: PreparedQuery) -> Levels:
    count = len(people)
    if query.year <= 0:
        return np.zeros(count, dtype=np.int8)
    year = frozen.year[people].astype(np.int32)
    month = frozen.month[people]
    day = frozen.day[people]
    levels = np.full(count, BirthLevel.DIFFERS, dtype=np.int8)
    same_year = year == query.year
    if query.month > 0:
        known = (month > 0) & (day > 0)
        m_ok, d_ok = month == query.month, day == query.day
        swapped = (month == query.day) & (day == query.month)
        near = (np.abs(year - query.year) == 1) & (~known | (m_ok & d_ok))
        levels[near] = BirthLevel.NEAR
        levels[same_year & known] = BirthLevel.YEAR_ONLY
        levels[same_year & known & (m_ok | d_ok)] = BirthLevel.YEAR_PARTIAL
        levels[same_year & known & swapped] = BirthLevel.SWAPPED
        levels[same_year & known & m_ok & d_ok] = BirthLevel.EXACT
        levels[same_year & ~known] = BirthLevel.YEAR
    else:
        levels[np.abs(year - query.year) == 1] = BirthLevel.NEAR
        levels[same_year] = BirthLevel.YEAR
    levels[year <= 0] = BirthLevel.MISSING
    return levels


def flag_levels(values: npt.NDArray[np.int8] | npt.NDArray[np.int16] | npt.NDArray[np.int64], wanted: int) -> Levels:
    if wanted == 0:
        return np.zeros(len(values), dtype=np.int8)
    levels = np.where(values == wanted, FlagLevel.AGREES, FlagLevel.DIFFERS).astype(np.int8)
    levels[values == 0] = FlagLevel.MISSING
    return levels


def address_levels(values: npt.NDArray[np.int64], wanted: int) -> Levels:
    if wanted == 0:
        return np.zeros(len(values), dtype=np.int8)
    distance = np.bitwise_count(np.bitwise_xor(values, np.int64(wanted)))
    levels = np.full(len(values), AddressLevel.DIFFERS, dtype=np.int8)
    agrees, close, similar = ADDRESS_BITS
    levels[distance <= similar] = AddressLevel.SIMILAR
    levels[distance <= close] = AddressLevel.CLOSE
    levels[distance <= agrees] = AddressLevel.AGREES
    levels[values == 0] = AddressLevel.MISSING
    return levels


def all_levels(frozen: Frozen, people: People, query: PreparedQuery) -> dict[str, Levels]:
    """Every field's agreement level for each of `people`."""
    return {
        "given": name_levels(frozen.given[people], frozen.given_variant[people], query.given),
        "family": name_levels(frozen.family[people], frozen.family_variant[people], query.family),
        "middle": name_levels(frozen.middle[people], frozen.middle_variant[people], query.middle),
        "birth": birth_levels(frozen, people, query),
        "sex": flag_levels(frozen.sex[people], query.sex),
        "province": flag_levels(frozen.province[people], query.province),
        "phone": flag_levels(frozen.phone[people], query.phone),
        "address": address_levels(frozen.address[people], query.address),
    }


def score(
    frozen: Frozen, people: People, query: PreparedQuery, scorer: Scorer
) -> tuple[dict[str, Levels], dict[str, Bits]]:
    """Levels and bits of every field; the names in whichever order (typed or swapped) fits each person better."""
    levels = all_levels(frozen, people, query)
    ids = {"given": frozen.given[people], "family": frozen.family[people], "middle": frozen.middle[people]}
    bits = scorer.bits(levels, ids, {"given": query.given, "family": query.family, "middle": query.middle})
    if query.reversed_names is None:
        return levels, bits
    given, family = query.reversed_names
    swapped = {
        "given": name_levels(ids["given"], frozen.given_variant[people], given),
        "family": name_levels(ids["family"], frozen.family_variant[people], family),
    }
    swapped_bits = scorer.bits(swapped, ids, {"given": given, "family": family})
    # Swapping must win by a bit, so a name that reads both ways keeps the order it was typed in.
    better = swapped_bits["given"] + swapped_bits["family"] > bits["given"] + bits["family"] + 1.0
    if better.any():
        for name in ("given", "family"):
            levels[name] = np.where(better, swapped[name], levels[name]).astype(np.int8)
            bits[name] = np.where(better, swapped_bits[name], bits[name])
    return levels, bits


class Scorer:
    """Level -> bits tables, with exact name agreement weighted by the name's frequency in the population."""

    def __init__(self, weights: WeightTable, name_counts: dict[str, npt.NDArray[np.int64]], population: int) -> None:
        self.tables = {name: weights.bits(name) for name in LEVELS}
        prior = weights.grading.term_frequency_prior
        self.exact_bits: dict[str, Bits] = {}
        for name in ("given", "family", "middle"):
            exact = weights.fields[name]["exact"]
            counts = name_counts[name].astype(np.float64)
            frequency = (counts + prior * exact.u) / (max(population, 0) + prior)
            self.exact_bits[name] = np.log2(exact.m / frequency)

    def bits(
        self, levels: dict[str, Levels], name_ids: dict[str, npt.NDArray[np.int32]], query: dict[str, PreparedName]
    ) -> dict[str, Bits]:
        """Each field's contribution in bits, per person.

        A near spelling never counts for more than the exact one would: agreeing on a typo of Nguyễn is no better
        evidence than agreeing on Nguyễn.
        """
        out: dict[str, Bits] = {}
        for name, level in levels.items():
            contribution = self.tables[name][level]
            if name in self.exact_bits:
                exact = level == NameLevel.EXACT
                if exact.any():
                    contribution[exact] = self.exact_bits[name][name_ids[name][exact]]
                asked = query[name].name_id
                if asked >= 0:
                    ceiling = float(self.exact_bits[name][asked])
                    near = (level == NameLevel.CLOSE) | (level == NameLevel.ACCENT)
                    contribution[near] = np.minimum(contribution[near], ceiling)
            out[name] = contribution
        return out
