"""The synthetic population: deterministic, realistic, with consistent identifiers."""

from __future__ import annotations

from collections import Counter

from lookup.domain.model import Sex
from lookup.domain.provinces import OLD_PROVINCES, OLD_PROVINCES_BY_NAME, PROVINCES_BY_NAME, current_province
from sandbox.synthetic.population import generate_people

CCCD_CODES = {o.cccd_code for o in OLD_PROVINCES}


def test_deterministic_and_prefix_stable() -> None:
    small = list(generate_people(300, seed=7))
    large = list(generate_people(600, seed=7))
    assert small == large[:300]
    assert list(generate_people(300, seed=8)) != small


def test_identifiers_unique_and_consistent() -> None:
    people = list(generate_people(20_000, seed=3))
    assert len({p.cccd for p in people}) == len(people)
    assert len({p.bhxh for p in people}) == len(people)
    for p in people[:2000]:
        assert len(p.cccd) == 12 and p.cccd.isdigit()
        assert len(p.bhxh) == 10 and p.bhxh.isdigit()
        assert p.cccd[:3] in CCCD_CODES
        century = int(p.cccd[3])
        assert 1900 + 100 * (century // 2) + int(p.cccd[4:6]) == p.birth_date.year
        assert (century % 2 == 1) == (p.sex is Sex.FEMALE)
        assert p.province in PROVINCES_BY_NAME
        assert p.card_province in OLD_PROVINCES_BY_NAME
        found = current_province(p.address)
        assert found is not None and found.name == p.province
        assert p.patient_id == f"p{p.index}"


def test_name_frequencies_and_twins() -> None:
    people = list(generate_people(20_000, seed=11))
    families = Counter(p.family for p in people)
    assert 0.33 < families["Nguyễn"] / len(people) < 0.43
    middles = Counter((p.sex, p.middle) for p in people)
    assert middles.most_common(2)[0][0] in {(Sex.FEMALE, "Thị"), (Sex.MALE, "Văn")}
    births = Counter((p.household, p.birth_date) for p in people)
    twins = sum(count for count in births.values() if count > 1)
    assert 0.01 < twins / len(people) < 0.06
    by_household = Counter(p.household for p in people)
    assert max(by_household.values()) >= 3
    demo = people[0].demographics()
    assert demo.birth_year == people[0].birth_date.year
