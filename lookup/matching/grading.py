"""From scores in bits to a 0..1 score and a FHIR match grade.

A score W (bits) is a likelihood ratio. With N people indexed, the prior odds that a given one is the person sought
are about 1/N, so W - log2(N) is the posterior log-odds: the bar rises by one bit each time the population doubles.
The 0..1 score shares the probability among the candidates and "none of them" (odds 1), so two equally good
candidates get half each.

`certain` needs all of: posterior log-odds above `certain_bits`; the runner-up at least `runner_up_gap_bits`
behind; a given name and a full birth date in the query that the best match agrees with (a year of birth never
confirms anybody); and no twin of the best match among the candidates (same family name, same birth date, same
phone or address). `probable` needs posterior log-odds above `probable_bits`; anything else is `possible`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lookup.domain.model import MatchGrade
from lookup.matching.weights import Grading


def relative_bits(total_bits: npt.NDArray[np.float64], population: int) -> npt.NDArray[np.float64]:
    """Posterior log-odds of each candidate: its bits less log2 of the population."""
    return total_bits - math.log2(max(population, 2))


def shared_scores(relative: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each candidate's probability of being the person, beside `none of them` at odds 1."""
    if not len(relative):
        return relative
    denominator = np.logaddexp2.reduce(np.append(relative, 0.0))
    scores: npt.NDArray[np.float64] = np.exp2(relative - denominator)
    return np.clip(scores, 0.0, 1.0)


def grades(
    relative: Sequence[float],
    grading: Grading,
    *,
    best_may_be_certain: bool,
    agrees_in_full: Sequence[bool] = (),
) -> list[MatchGrade]:
    """Grades of candidates sorted best first (`relative` = posterior log-odds, all candidates of the query).

    `agrees_in_full[i]`: candidate i agrees exactly with a query of at least a whole name and a birth year. Such a
    candidate is `probable` at least: its log-odds fall short only because the name is common in the population,
    which says there may be namesakes, never that this person agrees less (a namesake would be listed beside it)."""
    whole = list(agrees_in_full) + [False] * (len(relative) - len(agrees_in_full))
    out = [
        MatchGrade.PROBABLE if r >= grading.probable_bits or full else MatchGrade.POSSIBLE
        for r, full in zip(relative, whole, strict=True)
    ]
    if out and best_may_be_certain and relative[0] >= grading.certain_bits:
        runner_up = relative[1] if len(relative) > 1 else -math.inf
        if relative[0] - runner_up >= grading.runner_up_gap_bits:
            out[0] = MatchGrade.CERTAIN
    return out
