"""Vietnamese normalisation: folding, tone placement, leftover typing, family variants, phones, blocking keys."""

from __future__ import annotations

import datetime as dt

import pytest

from lookup.domain.model import Demographics
from lookup.domain.text import fold, phone_number
from lookup.matching import blocking_keys, query_blocking_keys, tone_key
from lookup.matching.fields import split_name
from lookup.matching.normalise import decode_typing, family_canonical, phonetic


def test_d_bar_folds_to_d_not_to_nothing() -> None:
    assert fold("Đặng Đức") == "dang duc"
    assert fold("  ĐỖ   Thị  Đào ") == "do thi dao"


def test_old_and_new_tone_placement_are_one_spelling() -> None:
    assert tone_key("Hoà") == tone_key("Hòa")
    assert tone_key("Thuý") == tone_key("Thúy")
    assert tone_key("Khoẻ") == tone_key("Khỏe")


def test_accents_stay_a_secondary_signal() -> None:
    assert fold("Hùng") == fold("Hưng") == "hung"
    assert tone_key("Hùng") != tone_key("Hưng")


def test_decomposed_input_is_composed_first() -> None:
    decomposed = "Nguye\u0302\u0303n"
    assert fold(decomposed) == "nguyen"
    assert tone_key(decomposed) == tone_key("Nguyễn")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("Nguyeenx", "Nguyễn"), ("Hoaf", "Hòa"), ("Truwowngf", "Trường"), ("ddinh", "Đinh"), ("Nguye6n4", "Nguyễn")],
)
def test_leftover_telex_and_vni_typing_is_decoded(typed: str, meant: str) -> None:
    decoded = decode_typing(typed)
    assert decoded is not None
    assert fold(decoded) == fold(meant)
    assert tone_key(decoded) == tone_key(meant)


def test_text_with_accents_is_not_decoded() -> None:
    assert decode_typing("Nguyễn") is None


def test_regional_family_variants_share_one_key() -> None:
    assert family_canonical(fold("Huỳnh")) == family_canonical(fold("Hoàng")) == "hoang"
    assert family_canonical(fold("Võ")) == family_canonical(fold("Vũ")) == "vu"
    assert family_canonical(fold("Trần")) == "tran"


def test_sound_alike_spellings_share_a_phonetic_key() -> None:
    assert phonetic("giang") == phonetic("dang") == phonetic("rang")
    assert phonetic("trung") == phonetic("chung")
    assert phonetic("thinh") == phonetic("thin")
    assert phonetic("hoa") != phonetic("lan")


@pytest.mark.parametrize("typed", ["+84 912 345 678", "0912345678", "84912345678", "0912.345.678", "+84-912-345-678"])
def test_phone_numbers_with_and_without_country_code_agree(typed: str) -> None:
    assert phone_number(typed) == 912345678


def test_a_missing_or_too_short_phone_is_zero() -> None:
    assert phone_number(None) == 0
    assert phone_number("12") == 0


def test_a_whole_name_in_one_box_is_split_family_first() -> None:
    parts = split_name(Demographics(given="Nguyễn Thị Minh Khai"))
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Thị Minh", "Khai")
    parts = split_name(Demographics(family="Lê Văn", given="Tám"))
    assert (parts.family, parts.middle, parts.given) == ("Lê", "Văn", "Tám")


def test_blocking_keys_survive_accents_and_a_day_month_swap() -> None:
    born = dt.date(1990, 4, 7)
    card = Demographics(family="Đặng", given="Thuý", birth_date=born, phone="+84912345678")
    typed = Demographics(family="dang", given="thuy", birth_date=dt.date(1990, 7, 4), phone="0912345678")
    assert set(blocking_keys(card)) & set(blocking_keys(typed)) == set(blocking_keys(card))
    assert all(len(key) < 40 for key in blocking_keys(card))


def test_query_keys_reach_the_neighbouring_birth_years() -> None:
    stored = blocking_keys(Demographics(given="Lan", birth_year=1980))
    asked = query_blocking_keys(Demographics(given="Lan", birth_year=1981))
    assert set(stored) & set(asked)
    assert blocking_keys(Demographics()) == []
