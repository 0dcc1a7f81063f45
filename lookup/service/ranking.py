"""The bridge to the matching engine: rank records a server (or the cache) returned, and the blocking keys under
which the offline cache files people.

Servers without `$match` answer a plain search with whoever fits its filters, in no useful order; the engine ranks
them against the query, with a `certain` threshold that grows with the population searched. The engine is imported
on first use, so a kiosk that only scans cards does not pay for loading it at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from lookup.domain.model import Candidate, Demographics, MatchGrade, PatientRecord

SCORE_FLOOR = 0.01
"""The least score (a share of the probability of being the person, `lookup.matching.grading`) of a `possible`
candidate shown to a clerk: below one chance in a hundred, a row only invites a wrong choice (it would read `0.00`).
`probable` and `certain` candidates are shown whatever their share, `certainly-not` never."""


def worth_showing(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates a person may choose from: none `certainly-not`, none `possible` under `SCORE_FLOOR`."""
    return [
        c
        for c in candidates
        if c.grade in (MatchGrade.CERTAIN, MatchGrade.PROBABLE)
        or (c.grade is MatchGrade.POSSIBLE and round(c.score, 2) >= SCORE_FLOOR)
    ]


def rank_records(query: Demographics, records: Sequence[PatientRecord], population: int) -> list[Candidate]:
    """Candidates best first, with the engine's grade and per-field agreements."""
    from lookup.matching import rank

    by_id = {r.id: r for r in records}
    if not by_id:
        return []
    scored = rank(query, [(r.id, r.demographics) for r in by_id.values()], max(population, len(by_id)))
    return [
        Candidate(patient=by_id[s.key], score=min(1.0, max(0.0, s.score)), grade=s.grade, agreements=s.agreements)
        for s in scored
        if s.key in by_id
    ]


def record_keys(person: Demographics) -> list[str]:
    """The keys a cached record is filed under."""
    from lookup.matching import blocking_keys

    return blocking_keys(person)


def query_keys(person: Demographics) -> list[str]:
    """The keys an offline demographic query looks up (widened to neighbouring birth years)."""
    from lookup.matching import query_blocking_keys

    return query_blocking_keys(person)
