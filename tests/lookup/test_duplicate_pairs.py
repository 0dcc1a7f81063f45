"""The duplicate finder's decision, pure: which records pair, with what score and reasons, whatever their order."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from lookup.domain.duplicates import DuplicatePair
from lookup.domain.model import Demographics, Identifier, PatientRecord, Sex
from lookup.domain.temporary import TEMPORARY_SYSTEM
from lookup.matching import rank
from lookup.service.duplicate_pairs import (
    DUPLICATE_SCORE,
    LARGEST_BLOCK,
    POPULATION,
    candidate_keys,
    compare,
    find_pairs,
    may_pair,
    pairs_with,
)

CCCD = "http://fhir.hl7.org.vn/core/sid/cccd"
BHYT = "http://fhir.hl7.org.vn/core/sid/bhyt"
BORN = dt.date(1990, 1, 2)


def person(
    pid: str,
    family: str = "Nguyễn",
    middle: str | None = "Thị Hồng",
    given: str = "Nhung",
    *,
    born: dt.date | None = BORN,
    year: int | None = None,
    sex: Sex = Sex.FEMALE,
    cccd: str | None = None,
    bhyt: str | None = None,
) -> PatientRecord:
    identifiers = [Identifier(system=CCCD, value=cccd)] if cccd else []
    identifiers += [Identifier(system=BHYT, value=bhyt)] if bhyt else []
    demographics = Demographics(
        family=family, middle=middle, given=given, birth_date=born, birth_year=year, sex=sex, province="Hà Nội"
    )
    return PatientRecord(id=pid, identifiers=tuple(identifiers), demographics=demographics)


def only(pairs: list[DuplicatePair]) -> DuplicatePair:
    assert len(pairs) == 1, [(p.first.id, p.second.id) for p in pairs]
    return pairs[0]


def test_same_name_and_birth_date_with_two_different_cccd_is_offered() -> None:
    pair = only(find_pairs([person("b", cccd="001190012345"), person("a", family="Nguyen", cccd="001190054321")]))
    assert (pair.first.id, pair.second.id) == ("a", "b")
    assert [(i.system, i.level) for i in pair.identifiers] == [(CCCD, "differs")]
    assert not pair.shares_number and DUPLICATE_SCORE <= pair.score <= 1.0
    levels = {a.field: a.level for a in pair.agreements}
    # "Nguyen" without its marks is close to "Nguyễn"; the given name and the birth date agree.
    assert (levels["family"], levels["given"], levels["birth_date"]) == ("close", "agrees", "agrees")


def test_one_number_on_two_records_is_offered_whatever_the_names() -> None:
    first = person("p1", cccd="001190012345", bhyt="0123456789")
    second = person("p2", "Trần", "Văn", "Nam", born=dt.date(1971, 5, 6), sex=Sex.MALE, cccd="001190012345")
    pair = only(find_pairs([first, second]))
    assert pair.shares_number and [(i.system, i.level) for i in pair.identifiers] == [(CCCD, "agrees")]
    alone = rank(first.demographics, [(second.id, second.demographics)], POPULATION)[0].score
    assert alone < pair.score < DUPLICATE_SCORE  # the number raised the odds; the names still tell against it


def test_a_swapped_day_and_month_and_a_missing_middle_name_still_pair() -> None:
    swapped = person("p2", middle=None, born=dt.date(1990, 2, 1))
    pair = only(find_pairs([person("p1"), swapped]))
    assert any(a.field == "birth_date" and a.code == "swapped" for a in pair.agreements)


def test_a_record_knowing_only_the_year_pairs_with_the_whole_date() -> None:
    pair = only(find_pairs([person("p1"), person("p2", born=None, year=1990)]))
    assert any(a.field == "birth_year" for a in pair.agreements)


@pytest.mark.parametrize(
    "other",
    [
        person("p2", born=dt.date(1990, 7, 19)),  # a namesake born another day of the same year
        person("p2", given="Nhàn"),  # a twin: same family, middle name and birth date, another given name
        person("p2", "Trần", "Văn", "Nam", sex=Sex.MALE),  # only the birth date in common
    ],
)
def test_namesakes_twins_and_strangers_are_not_offered(other: PatientRecord) -> None:
    assert find_pairs([person("p1"), other]) == []
    assert pairs_with(person("p1"), [other]) == []


def test_a_temporary_identity_is_never_paired() -> None:
    temporary = PatientRecord(
        id="TMP123456782",
        identifiers=(Identifier(system=TEMPORARY_SYSTEM, value="TMP123456782"),),
        demographics=person("x").demographics,
    )
    assert find_pairs([person("p1"), temporary]) == []
    assert compare(person("p1"), temporary) is None


def test_a_number_shared_by_a_crowd_pairs_nobody() -> None:
    crowd = [person(f"p{i}", born=dt.date(1950 + i, 3, 4), cccd="000000000000") for i in range(51)]
    assert len(crowd) > LARGEST_BLOCK and find_pairs(crowd) == []
    assert len(find_pairs(crowd[:2])) == 1
    assert pairs_with(crowd[0], crowd[1:]) == []


def population(seed: int) -> list[PatientRecord]:
    """Strangers, with three duplicates planted among them."""
    rng = random.Random(seed)
    families, givens = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"), ("An", "Bình", "Chi", "Dũng", "Hà", "Lan", "Minh")
    people = [
        person(
            f"s{i}",
            rng.choice(families),
            rng.choice(("Văn", "Thị", "Đức")),
            rng.choice(givens),
            born=dt.date(rng.randrange(1940, 2020), rng.randrange(1, 13), rng.randrange(1, 29)),
            sex=rng.choice((Sex.MALE, Sex.FEMALE)),
            cccd=f"0011{i:08d}",
        )
        for i in range(600)
    ]
    twin = people[7].model_copy(update={"id": "d7"})
    retyped = people[11].model_copy(update={"id": "d11", "identifiers": ()})
    numbered = person("d19", "Vũ", "Văn", "Quang", born=dt.date(1960, 1, 1), sex=Sex.MALE, cccd="001100000019")
    return [*people, twin, retyped, numbered]


def test_the_scan_is_deterministic_and_agrees_with_the_check_of_each_record() -> None:
    people = population(3)
    found = find_pairs(people)
    assert {("d11", "s11"), ("d19", "s19"), ("d7", "s7")} <= {(p.first.id, p.second.id) for p in found}
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    shuffled = people[:]
    random.Random(9).shuffle(shuffled)
    assert find_pairs(shuffled) == found
    one_by_one = {(p.first.id, p.second.id) for r in people for p in pairs_with(r, [o for o in people if o != r])}
    assert one_by_one == {(p.first.id, p.second.id) for p in found}
    keys = [candidate_keys(r) for r in people]
    pairing = may_pair(keys, [r.demographics.birth_date is None for r in people])
    assert find_pairs([r for r, kept in zip(people, pairing, strict=True) if kept]) == found
    assert sum(pairing) < len(people) // 2  # most records share no key: never read in full by a scan
