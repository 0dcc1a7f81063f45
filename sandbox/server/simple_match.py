"""A small, explainable ranking for `$match` while the matching engine is not available (or still loading).

Candidates come from indexed columns (given name and birth year +-1, family and given name, phone, birth date);
each field adds a weight when it agrees and subtracts when it differs; the score is the sum over the best possible
sum for the fields the query has. `certain` needs a near-perfect score on name and full birth date and a clear lead
over the runner-up, so a twin or a namesake never confirms itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from lookup.domain.model import Demographics, MatchGrade
from lookup.domain.text import fold, phone_digits
from lookup.matching.normalise import family_canonical
from sandbox.server.storage import Store

_WEIGHTS: Final = {"given": 3.0, "family": 1.0, "middle": 0.5, "birth": 3.0, "sex": 0.5, "province": 1.0, "phone": 2.5}


def _score(query: Demographics, row: Sequence[Any]) -> float:
    _, _, family, given, given_all, birth_date, birth_year, gender, state, phone = row
    total = best = 0.0
    if query.given:
        best += _WEIGHTS["given"]
        wanted = fold(query.given)
        total += _WEIGHTS["given"] if wanted == given else (-2.0 if not given.startswith(wanted) else 1.0)
    if query.family:
        best += _WEIGHTS["family"]
        total += _WEIGHTS["family"] if family_canonical(fold(query.family)) == family_canonical(family) else -1.0
    if query.middle:
        best += _WEIGHTS["middle"]
        total += _WEIGHTS["middle"] if fold(query.middle) in given_all else -0.25
    if query.birth_date is not None:
        best += _WEIGHTS["birth"]
        if birth_date == query.birth_date.isoformat():
            total += _WEIGHTS["birth"]
        elif (
            birth_date
            and birth_date[:4] == str(query.birth_date.year)
            and (
                birth_date[5:7] == f"{query.birth_date.day:02d}" and birth_date[8:10] == f"{query.birth_date.month:02d}"
            )
        ):
            total += 1.5  # day and month swapped
        else:
            total -= 3.0
    elif query.birth_year is not None:
        best += 1.0
        total += 1.0 if birth_year == query.birth_year else -1.0
    if query.sex is not None:
        best += _WEIGHTS["sex"]
        total += _WEIGHTS["sex"] if gender == query.sex.value else -2.0
    if query.province:
        best += _WEIGHTS["province"]
        total += _WEIGHTS["province"] if fold(query.province) == state else -0.5
    if query.phone:
        best += _WEIGHTS["phone"]
        total += _WEIGHTS["phone"] if phone_digits(query.phone) == phone else 0.0
    return max(0.0, total / best) if best else 0.0


class SimpleMatcher:
    """Field-weight ranking over candidates drawn from the database's indexes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def candidates(self, query: Demographics) -> list[tuple[Any, ...]]:
        found: dict[int, tuple[Any, ...]] = {}
        searches: list[tuple[str, list[Any]]] = []
        given = fold(query.given) if query.given else None
        if given and query.birth_year is not None:
            searches.append(
                ("given = ? AND birth_year BETWEEN ? AND ?", [given, query.birth_year - 1, query.birth_year + 1])
            )
        if given and query.family:
            searches.append(("family = ? AND given = ?", [fold(query.family), given]))
        if query.phone:
            searches.append(("phone = ?", [phone_digits(query.phone)]))
        if query.birth_date is not None and not given:
            searches.append(("birth_date = ?", [query.birth_date.isoformat()]))
        for where, params in searches:
            for row in self.store.demographics_rows(where, params, 2000):
                found[int(row[0])] = row
        return list(found.values())

    def search(self, query: Demographics, limit: int) -> list[tuple[str, float, str]]:
        scored = sorted(((_score(query, row), str(row[1])) for row in self.candidates(query)), reverse=True)
        out: list[tuple[str, float, str]] = []
        full = bool(query.given and query.family and query.birth_date)
        for position, (score, patient_id) in enumerate(scored[:limit]):
            runner_up = scored[position + 1][0] if position + 1 < len(scored) else 0.0
            if position == 0 and full and score >= 0.9 and score - runner_up >= 0.15:
                grade = MatchGrade.CERTAIN.value
            elif score >= 0.7:
                grade = MatchGrade.PROBABLE.value
            elif score >= 0.4:
                grade = MatchGrade.POSSIBLE.value
            else:
                grade = MatchGrade.CERTAINLY_NOT.value
            out.append((patient_id, score, grade))
        return out
