"""Card against record: the honest differences of one person's name pass, another person's name, birth date or sex
does not (`lookup.service.identity`)."""

from __future__ import annotations

import datetime as dt

import pytest

from lookup.domain.model import Demographics, Sex
from lookup.service.identity import identity_differences

RECORD = Demographics(family="Nguyễn", middle="Văn", given="An", birth_date=dt.date(1980, 5, 17), sex=Sex.MALE)


@pytest.mark.parametrize(
    "card",
    [
        Demographics(family="NGUYEN", middle="VAN", given="AN", birth_date=dt.date(1980, 5, 17), sex=Sex.MALE),
        Demographics(family="Nguyễn", given="An", birth_year=1980),
        Demographics(family="Nguyễn", middle="Hữu", given="An", birth_date=dt.date(1980, 5, 17)),
        Demographics(family="An", middle="Nguyễn", given="Văn", sex=Sex.MALE),
        Demographics(given="Nguyễn Văn An"),
        Demographics(),
    ],
)
def test_one_person_written_differently_is_the_same(card: Demographics) -> None:
    assert identity_differences(card, RECORD) == ()


@pytest.mark.parametrize(
    ("card", "differs"),
    [
        (Demographics(family="Trần", middle="Thị", given="Hoa"), ("name",)),
        (Demographics(family="Nguyễn", middle="Văn", given="Anh"), ("name",)),
        (Demographics(family="Nguyễn", given="An", birth_date=dt.date(1980, 7, 5)), ("birth_date",)),
        (Demographics(family="Nguyễn", given="An", birth_year=1981), ("birth_date",)),
        (Demographics(family="Nguyễn", given="An", sex=Sex.FEMALE), ("sex",)),
        (
            Demographics(family="Lê", given="Mai", birth_date=dt.date(1990, 1, 1), sex=Sex.FEMALE),
            ("name", "birth_date", "sex"),
        ),
    ],
)
def test_another_persons_details_differ(card: Demographics, differs: tuple[str, ...]) -> None:
    assert identity_differences(card, RECORD) == differs
