"""The matching engine: add people, search by demographics, get ranked and graded matches with explanations.

Candidates come from blocking indexes (`retrieval`), are scored in one vectorised pass (`scoring`), graded against
the population (`grading`) and explained field by field (`explain`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lookup.domain.model import Demographics, FieldAgreement, MatchGrade
from lookup.matching import stored
from lookup.matching.explain import agreements
from lookup.matching.fields import Fields, fields_of
from lookup.matching.grading import grades, relative_bits, shared_scores
from lookup.matching.index import Frozen, Growing, People, freeze, indexed
from lookup.matching.prepare import Vocabularies, name_accented, prepare_query, spelling
from lookup.matching.retrieval import candidates
from lookup.matching.scoring import PreparedQuery, Scorer, all_levels, score
from lookup.matching.vocab import PROVINCE_LIMIT, Vocabulary
from lookup.matching.weights import AddressLevel, BirthLevel, FlagLevel, NameLevel, WeightTable, load_weights


@dataclass(frozen=True, slots=True)
class ScoredMatch:
    """One ranked match: the caller's key, a 0..1 score, the grade, and why."""

    key: str
    score: float
    grade: MatchGrade
    agreements: tuple[FieldAgreement, ...]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    frozen: Frozen
    scorer: Scorer
    size: int


class MatchEngine:
    """An in-memory index of people for demographic search. Safe to search from several threads."""

    def __init__(self, *, weights: WeightTable | None = None, term_frequencies: bool = True) -> None:
        """`term_frequencies=False` weighs exact name agreement by the global `u` (for a handful of records)."""
        self.weights = weights or load_weights()
        self._term_frequencies = term_frequencies
        self._columns = Growing()
        self._vocabs = Vocabularies(given=Vocabulary(), family=Vocabulary(), middle=Vocabulary(), provinces={})
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._frozen: Frozen | None = None

    def __len__(self) -> int:
        return len(self._columns)

    def add(self, key: str, person: Demographics) -> None:
        """Index one person under `key` (a patient id); keys are expected to be unique."""
        with self._lock:
            self._append(key, fields_of(person))

    def add_many(self, items: Iterable[tuple[str, Demographics]]) -> None:
        with self._lock:
            for key, person in items:
                self._append(key, fields_of(person))

    def _append(self, key: str, fields: Fields) -> None:
        c, v = self._columns, self._vocabs
        accented = name_accented(fields.name)
        given = spelling(fields.name.given, accented=accented)
        family = spelling(fields.name.family, canonical=True, accented=accented)
        middle = spelling(fields.name.middle, accented=accented)
        for vocab, spelled, ids, variants in (
            (v.given, given, c.given, c.given_variant),
            (v.family, family, c.family, c.family_variant),
            (v.middle, middle, c.middle, c.middle_variant),
        ):
            name_id, variant = vocab.intern(spelled.key, spelled.variant)
            ids.append(name_id)
            variants.append(variant)
        year_ok = 1800 <= fields.year <= 2200
        c.year.append(fields.year if year_ok else 0)
        c.month.append(fields.month if year_ok else 0)
        c.day.append(fields.day if year_ok else 0)
        c.sex.append(fields.sex)
        province = 0
        if fields.province:
            province = v.provinces.setdefault(fields.province, min(len(v.provinces) + 1, PROVINCE_LIMIT))
        c.province.append(province)
        c.phone.append(fields.phone)
        c.address.append(fields.address)
        c.key_blob += key.encode("utf-8")
        c.key_ends.append(len(c.key_blob))
        self._snapshot = None

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot
        with self._lock:
            return self._refreshed()

    def _refreshed(self) -> _Snapshot:
        """The snapshot of everyone added so far, frozen now if need be (the caller holds the lock)."""
        if self._snapshot is None:
            size = len(self._columns)
            scorer = self._scorer(size)
            self._frozen = freeze(self._columns, self._frozen)
            self._snapshot = _Snapshot(frozen=self._frozen, scorer=scorer, size=size)
        return self._snapshot

    def _scorer(self, size: int) -> Scorer:
        counts = {
            "given": np.array(self._vocabs.given.counts, dtype=np.int64),
            "family": np.array(self._vocabs.family.counts, dtype=np.int64),
            "middle": np.array(self._vocabs.middle.counts, dtype=np.int64),
        }
        if not self._term_frequencies:
            counts = {name: np.zeros_like(value) for name, value in counts.items()}
        return Scorer(self.weights, counts, size if self._term_frequencies else 0)

    def save(self, path: Path, *, fingerprint: str) -> None:
        """Store the index at `path` (one file, replaced atomically) for `load`; `fingerprint` names the data it was
        made from, so that a later `load` for other data refuses it."""
        with self._lock:
            snapshot = self._refreshed()
            parts = stored.IndexParts(
                columns=snapshot.frozen.columns(),
                keys=bytes(self._columns.key_blob),
                key_ends=np.array(self._columns.key_ends, dtype=np.int32),  # a copy: the array stays growable
                vocabularies=self._vocabs,
            )
            # Under the lock: nobody adds while the vocabularies and keys are written out.
            stored.write(path, parts, fingerprint)

    @classmethod
    def load(
        cls, path: Path, *, fingerprint: str, weights: WeightTable | None = None, term_frequencies: bool = True
    ) -> MatchEngine:
        """The engine `save` stored at `path`, searching exactly as the saved one did; `StoredIndexError` when the
        file is missing, damaged, or was made by another engine version or from data with another fingerprint."""
        parts = stored.read(path, fingerprint)
        engine = cls(weights=weights, term_frequencies=term_frequencies)
        engine._vocabs = parts.vocabularies
        engine._columns.key_blob = bytearray(parts.keys)
        engine._columns.key_ends.frombytes(parts.key_ends.tobytes())
        engine._frozen = indexed(parts.columns)
        engine._snapshot = _Snapshot(frozen=engine._frozen, scorer=engine._scorer(parts.size), size=parts.size)
        return engine

    @property
    def nbytes(self) -> int:
        """Memory held by the searchable arrays and indexes (not counting the name vocabularies)."""
        c = self._columns
        return self._current().frozen.nbytes + len(c.key_blob) + c.key_ends.itemsize * len(c.key_ends)

    def search(self, query: Demographics, limit: int = 10) -> list[ScoredMatch]:
        """The best `limit` matches, best first; empty when the query says nothing or nobody is indexed."""
        if limit <= 0 or query.is_empty() or not len(self):
            return []
        snapshot = self._current()
        prepared = prepare_query(fields_of(query), self._vocabs)
        people = candidates(snapshot.frozen, prepared)
        return self._rank(snapshot, prepared, people, population=snapshot.size, limit=limit)

    def rank_all(self, query: Demographics, population: int, limit: int | None = None) -> list[ScoredMatch]:
        """Every indexed person ranked against the query, graded as if drawn from `population` people."""
        if query.is_empty() or not len(self):
            return []
        snapshot = self._current()
        prepared = prepare_query(fields_of(query), self._vocabs)
        people = np.arange(snapshot.size, dtype=np.int32)
        return self._rank(snapshot, prepared, people, population=population, limit=limit or snapshot.size)

    def compare(self, query: Demographics, rows: npt.NDArray[np.int32]) -> dict[str, npt.NDArray[np.int8]]:
        """Each field's agreement level between the query and the people at `rows` (insertion order), for
        estimating weights."""
        snapshot = self._current()
        return all_levels(snapshot.frozen, rows, prepare_query(fields_of(query), self._vocabs))

    def _rank(
        self, snapshot: _Snapshot, query: PreparedQuery, people: People, *, population: int, limit: int
    ) -> list[ScoredMatch]:
        if not len(people):
            return []
        frozen = snapshot.frozen
        levels, bits = score(frozen, people, query, snapshot.scorer)
        total = np.sum(np.stack(list(bits.values())), axis=0)
        keep = min(len(people), max(limit, 6))
        top = np.argpartition(-total, keep - 1)[:keep] if keep < len(people) else np.arange(len(people))
        top = top[np.argsort(-total[top], kind="stable")]
        relative_all = relative_bits(total, population)
        scores = shared_scores(relative_all)
        relative = relative_all[top].tolist()
        asked = _asked(query)
        best_may = _may_be_certain(query, {n: int(lv[top[0]]) for n, lv in levels.items()})
        best_may = best_may and not _has_twin(frozen, people[top])
        whole = [_agrees_in_full(query, {n: int(lv[position]) for n, lv in levels.items()}) for position in top]
        graded = grades(relative, self.weights.grading, best_may_be_certain=best_may, agrees_in_full=whole)
        out: list[ScoredMatch] = []
        seen: set[str] = set()
        for rank, position in enumerate(top.tolist()):
            key = self._columns.key(int(people[position]))
            if key in seen:
                continue
            seen.add(key)
            explanation = agreements(
                {n: int(lv[position]) for n, lv in levels.items()},
                {n: float(b[position]) for n, b in bits.items()},
                asked,
            )
            out.append(ScoredMatch(key=key, score=float(scores[position]), grade=graded[rank], agreements=explanation))
            if len(out) >= limit:
                break
        return out


def _asked(query: PreparedQuery) -> set[str]:
    asked = {name for name in ("given", "family", "middle") if getattr(query, name).present}
    present = {
        "birth": query.year > 0,
        "sex": query.sex > 0,
        "province": query.province != 0,
        "phone": query.phone != 0,
        "address": query.address != 0,
    }
    return asked | {name for name, here in present.items() if here}


def _agrees_in_full(query: PreparedQuery, levels: dict[str, int]) -> bool:
    """The query gave a family and a given name and a birth year, and the person agrees exactly with every field it
    gave (names letter for letter, the birth date or its year) and differs on none."""
    if not (query.family.present and query.given.present and query.year > 0):
        return False
    for name in ("given", "family", "middle"):
        if getattr(query, name).present and levels[name] != NameLevel.EXACT:
            return False
    if levels["birth"] not in (BirthLevel.EXACT, BirthLevel.YEAR):
        return False
    flags_agree = all(levels.get(flag) != FlagLevel.DIFFERS for flag in ("sex", "province", "phone"))
    return flags_agree and levels.get("address") != AddressLevel.DIFFERS


def _may_be_certain(query: PreparedQuery, best: dict[str, int]) -> bool:
    """Only a given name and a full birth date that the best match agrees with can confirm a person."""
    if not query.given.present or query.month <= 0:
        return False
    return best["given"] in (NameLevel.EXACT, NameLevel.CLOSE) and best["birth"] in (
        BirthLevel.EXACT,
        BirthLevel.SWAPPED,
    )


def _has_twin(frozen: Frozen, ranked: People) -> bool:
    """Whether a runner-up looks like a twin of the best: same family name, birth date, and phone or address.

    Sharing only a province is no sign of a household: among a million people, namesakes born on one day in one
    province are common."""
    if len(ranked) < 2:
        return False
    best, others = int(ranked[0]), ranked[1:]
    if frozen.month[best] <= 0:
        return False
    same = (
        (frozen.family[others] == frozen.family[best])
        & (frozen.year[others] == frozen.year[best])
        & (frozen.month[others] == frozen.month[best])
        & (frozen.day[others] == frozen.day[best])
    )
    household = ((frozen.phone[others] == frozen.phone[best]) & (frozen.phone[best] != 0)) | (
        (frozen.address[others] == frozen.address[best]) & (frozen.address[best] != 0)
    )
    return bool(np.any(same & household))


def rank(query: Demographics, records: Sequence[tuple[str, Demographics]], population: int) -> list[ScoredMatch]:
    """Rank records a plain search returned against the query, grading as if among `population` people.

    The records are too few to say how common a name is, so exact name agreement takes the global weight.
    """
    engine = MatchEngine(term_frequencies=False)
    engine.add_many(records)
    return engine.rank_all(query, max(population, len(records)))
