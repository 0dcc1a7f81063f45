"""Whatever a clerk types, search answers (possibly nothing) and never raises."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.domain.model import Demographics, Sex
from lookup.matching import MatchEngine, blocking_keys, rank
from sandbox.synthetic.population import generate_people

_ENGINE = MatchEngine()
_ENGINE.add_many((p.patient_id, p.demographics()) for p in generate_people(500, 3))
_ENGINE.add("odd", Demographics(given="X", family="-", address="?"))

_TEXT = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["Nguyễn", "nguyeenx", "Đ", "Hoà", "Thị Văn", "O'Brien", "  ", "Mary-Jane", "李", "9"]),
)
_PEOPLE = st.builds(
    Demographics,
    family=_TEXT,
    middle=_TEXT,
    given=_TEXT,
    birth_date=st.one_of(st.none(), st.dates(dt.date(1880, 1, 1), dt.date(2100, 12, 31))),
    sex=st.one_of(st.none(), st.sampled_from(list(Sex))),
    address=_TEXT,
    province=_TEXT,
    phone=st.one_of(st.none(), st.from_regex(r"\+?[0-9][0-9 .-]{4,18}[0-9]", fullmatch=True)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=_PEOPLE, limit=st.integers(min_value=-1, max_value=20))
def test_search_never_raises(query: Demographics, limit: int) -> None:
    found = _ENGINE.search(query, limit=limit)
    assert len(found) <= max(limit, 0)
    assert all(0.0 <= m.score <= 1.0 for m in found)
    assert len({m.key for m in found}) == len(found)
    assert all(isinstance(key, str) for key in blocking_keys(query))


@settings(max_examples=60, deadline=None)
@given(query=_PEOPLE, records=st.lists(_PEOPLE, max_size=6), population=st.integers(min_value=0, max_value=10**9))
def test_rank_never_raises(query: Demographics, records: list[Demographics], population: int) -> None:
    ranked = rank(query, [(f"r{i}", r) for i, r in enumerate(records)], population)
    assert len(ranked) <= len(records)
    assert all(0.0 <= m.score <= 1.0 for m in ranked)
