"""Which cached patients may be one person: deterministic, pure functions over `PatientRecord`s.

Two records are compared only when they share a candidate key: an identifier (the same CCCD, BHYT or other number on
both), or one of the matching engine's `pairing_keys` (family and given name with the birth date, given and middle
name with the birth date, the whole name with the birth year; names folded, the given name by its sound, the day and
month either way). A pair sharing only the whole name and year is compared only when one of them knows no more than
the year: two whole birth dates that differ are no sign of one person. A key shared by more than `LARGEST_BLOCK`
records (a placeholder number, a clinic's phone) pairs none of them: that is a data problem, not a duplicate.

A compared pair is scored by the matching engine (`lookup.matching.rank`, Fellegi-Sunter weights), the second
record against the first, as if among `POPULATION` people: the score is the probability that they are one person.
A number on both records multiplies the odds by 2^`SHARED_NUMBER_BITS`. A pair is offered for review when its score
reaches `DUPLICATE_SCORE`, or when it shares a number whatever its score (one number on two people must be looked
at). Two records carrying numbers of one system that differ (two CCCDs) are still offered when the rest agrees, with
the difference given as a reason: it is often a number typed wrong. A temporary identity (the ER's unidentified
patient) is never paired: it is joined to the real patient by its own link.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

from lookup.domain.duplicates import DuplicatePair, IdentifierAgreement
from lookup.domain.model import Demographics, PatientRecord
from lookup.domain.temporary import TEMPORARY_SYSTEM
from lookup.service.offline_store import identifier_key

DUPLICATE_SCORE: Final = 0.5
"""The least score at which a pair is offered for review: more likely one person than two."""
POPULATION: Final = 100_000
"""Pairs are graded as if among this many people (about the patients a large hospital sees in a year), whatever
the size of the cache, so the same two records always get the same score."""
SHARED_NUMBER_BITS: Final = 20.0
"""The weight of one identifier on both records: about one chance in a million that a slip gives two people the
same number."""
LARGEST_BLOCK: Final = 50
"""A candidate key shared by more records than this pairs none of them."""
_YEAR_ONLY: Final = "ny:"


def is_temporary(record: PatientRecord) -> bool:
    return any(i.system == TEMPORARY_SYSTEM for i in record.identifiers)


def candidate_keys(record: PatientRecord) -> frozenset[str]:
    """The keys a record is compared with others by: its identifiers and its pairing keys."""
    return keys_of((identifier_key(i) for i in record.identifiers), record.demographics)


def keys_of(numbers: Iterable[str], person: Demographics) -> frozenset[str]:
    """`candidate_keys` from a record's identifier keys (`identifier_key`) and its demographics."""
    from lookup.matching import pairing_keys

    return frozenset((*numbers, *pairing_keys(person)))


def worth_comparing(shared: Iterable[str], first: PatientRecord, second: PatientRecord) -> bool:
    """Whether two records sharing the keys `shared` are compared (see the module's rules)."""
    keys = set(shared)
    if not keys or first.id == second.id or is_temporary(first) or is_temporary(second):
        return False
    if all(key.startswith(_YEAR_ONLY) for key in keys):
        return first.demographics.birth_date is None or second.demographics.birth_date is None
    return True


def _identifiers(first: PatientRecord, second: PatientRecord) -> tuple[IdentifierAgreement, ...]:
    """For each system both records carry a number of: one number on both, or different numbers."""
    mine: dict[str, set[str]] = defaultdict(set)
    theirs: dict[str, set[str]] = defaultdict(set)
    for record, numbers in ((first, mine), (second, theirs)):
        for identifier in record.identifiers:
            numbers[identifier.system].add(identifier_key(identifier))
    return tuple(
        IdentifierAgreement(system=system, level="agrees" if mine[system] & theirs[system] else "differs")
        for system in sorted(set(mine) & set(theirs))
    )


def _with_number(score: float) -> float:
    """The score with a shared number counted in: its odds multiplied by 2^`SHARED_NUMBER_BITS`."""
    bounded = min(max(score, 1e-12), 1 - 1e-12)
    log_odds = math.log2(bounded / (1 - bounded)) + SHARED_NUMBER_BITS
    return float(1.0 / (1.0 + math.exp2(-log_odds)))


def compare(first: PatientRecord, second: PatientRecord) -> DuplicatePair | None:
    """The pair the two records make when it is worth a person's review, else None."""
    from lookup.matching import rank

    if first.id == second.id or is_temporary(first) or is_temporary(second):
        return None
    if second.id < first.id:
        first, second = second, first
    identifiers = _identifiers(first, second)
    scored = rank(first.demographics, [(second.id, second.demographics)], POPULATION)
    score = scored[0].score if scored else 0.0
    agreements = scored[0].agreements if scored else ()
    shared = any(i.level == "agrees" for i in identifiers)
    if shared:
        score = _with_number(score)
    if not shared and score < DUPLICATE_SCORE:
        return None
    return DuplicatePair(
        first=first,
        second=second,
        score=min(1.0, max(0.0, score)),
        identifiers=identifiers,
        agreements=agreements,
    )


def _in_order(pairs: Iterable[DuplicatePair]) -> list[DuplicatePair]:
    return sorted(pairs, key=lambda p: (-p.score, p.first.id, p.second.id))


def _within(key: str, members: list[int], people: Sequence[PatientRecord]) -> Iterable[tuple[int, int]]:
    """The pairs of a block (positions, lower first) that may be compared: in a whole-name-and-year block only those
    with a record that knows no more than the year (the others are many namesakes, and never compared)."""
    if not key.startswith(_YEAR_ONLY):
        return itertools.combinations(members, 2)
    undated = [m for m in members if people[m].demographics.birth_date is None]
    return {(min(u, m), max(u, m)) for u in undated for m in members if m != u}


def may_pair(keys: Sequence[frozenset[str]], undated: Sequence[bool]) -> list[bool]:
    """For each record of a set, given its `candidate_keys` and whether it knows no more than its birth year:
    whether `find_pairs` could compare it with another of the set (it shares a key with one, a whole-name-and-year key
    only with a record that knows no more than the year). A scan works this out on light copies first, and reads in
    full only the records that may pair."""
    sharing = Counter(key for own in keys for key in own)
    undated_in = Counter(
        key for own, alone in zip(keys, undated, strict=True) if alone for key in own if key.startswith(_YEAR_ONLY)
    )

    def pairs(key: str, alone: bool) -> bool:
        if not 2 <= sharing[key] <= LARGEST_BLOCK:
            return False
        return not key.startswith(_YEAR_ONLY) or alone or undated_in[key] > 0

    return [any(pairs(key, alone) for key in own) for own, alone in zip(keys, undated, strict=True)]


def find_pairs(records: Iterable[PatientRecord]) -> list[DuplicatePair]:
    """Every pair among `records` worth a person's review, likeliest first (then by record ids). A record given
    twice counts once (the last copy)."""
    people = list({record.id: record for record in records}.values())
    keys = [candidate_keys(record) for record in people]
    blocks: dict[str, list[int]] = defaultdict(list)
    for position, own in enumerate(keys):
        for key in own:
            blocks[key].append(position)
    compared: set[tuple[int, int]] = set()
    found: list[DuplicatePair] = []
    for key, members in blocks.items():
        if not 2 <= len(members) <= LARGEST_BLOCK:
            continue
        for x, y in _within(key, members, people):
            if (x, y) in compared or not worth_comparing(keys[x] & keys[y], people[x], people[y]):
                continue
            compared.add((x, y))
            pair = compare(people[x], people[y])
            if pair is not None:
                found.append(pair)
    return _in_order(found)


def pairs_with(record: PatientRecord, others: Sequence[PatientRecord]) -> list[DuplicatePair]:
    """The pairs worth a review that `record` makes with `others` (its neighbours in the cache), likeliest first."""
    own = candidate_keys(record)
    theirs = {other.id: (other, candidate_keys(other) & own) for other in others if other.id != record.id}
    crowd = Counter(key for _, shared in theirs.values() for key in shared)
    usable = frozenset(key for key in own if crowd[key] < LARGEST_BLOCK)
    found = []
    for other, shared in theirs.values():
        if worth_comparing(shared & usable, record, other):
            pair = compare(record, other)
            if pair is not None:
                found.append(pair)
    return _in_order(found)
