"""The lobby's second factor compared with the record: the phone's last four digits first, else the birth date."""

from __future__ import annotations

import datetime as dt

from lookup.domain.model import Demographics
from lookup.domain.second_factor import (
    MAX_ATTEMPTS,
    SecondFactor,
    SecondFactorLockouts,
    answer_agrees,
    expected_answer,
    second_factor,
)

BORN = Demographics(family="Nguyễn", given="An", birth_date=dt.date(1987, 3, 15))
WITH_PHONE = Demographics(family="Trần", given="Bình", birth_date=dt.date(1990, 1, 2), phone="+84 912 345 678")
YEAR_ONLY = Demographics(family="Lê", given="Chi", birth_year=1970)


def test_the_phone_is_asked_when_the_record_has_one_else_the_birth_date() -> None:
    assert second_factor(WITH_PHONE) is SecondFactor.PHONE_LAST4
    assert second_factor(BORN) is SecondFactor.BIRTH_DATE
    assert second_factor(YEAR_ONLY) is None  # a year alone is too easy to guess: reception helps instead


def test_the_right_birth_date_agrees_typed_with_or_without_separators() -> None:
    for typed in ("15031987", "15/03/1987", " 15.03.1987 ", "15-03-1987"):
        assert answer_agrees(BORN, SecondFactor.BIRTH_DATE, typed), typed


def test_a_wrong_or_partial_birth_date_does_not_agree() -> None:
    for typed in ("", "1987", "03151987", "16031987", "150319870", "1503198", "19870315", "15031987x"):
        assert not answer_agrees(BORN, SecondFactor.BIRTH_DATE, typed), typed


def test_the_last_four_phone_digits_agree_and_nothing_else_does() -> None:
    assert expected_answer(WITH_PHONE, SecondFactor.PHONE_LAST4) == "5678"
    assert answer_agrees(WITH_PHONE, SecondFactor.PHONE_LAST4, "5678")
    for typed in ("", "678", "45678", "5679", "0912345678", "02011990"):
        assert not answer_agrees(WITH_PHONE, SecondFactor.PHONE_LAST4, typed), typed


def test_a_record_without_the_asked_field_agrees_with_nothing() -> None:
    assert not answer_agrees(YEAR_ONLY, SecondFactor.BIRTH_DATE, "01011970")
    assert not answer_agrees(BORN, SecondFactor.PHONE_LAST4, "")
    assert MAX_ATTEMPTS == 3


def test_two_failed_sessions_lock_a_person_out_for_a_while() -> None:
    lockouts = SecondFactorLockouts(sessions=2, seconds=900)
    lockouts.failed("p1", 100.0)
    assert not lockouts.locked("p1", 101.0)
    lockouts.failed("p1", 200.0)
    assert lockouts.locked("p1", 201.0) and not lockouts.locked("p2", 201.0)
    assert not lockouts.locked("p1", 100.0 + 900 + 1)  # the first failure has aged out
