"""The one text normalisation: the fold, phone numbers and full names, and that every package reads them alike."""

from __future__ import annotations

import datetime as dt

import pytest

from lookup.domain.model import Demographics
from lookup.domain.provinces import current_province
from lookup.domain.text import fold, nfc, phone_digits, phone_number, plain_forms, split_full_name
from lookup.fhir.patient import demographics_of
from lookup.matching import MatchEngine, tone_key
from lookup.matching.fields import province_key


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("  ĐỖ   Thị  Đào ", "do thi dao"),
        ("Nguye\u0302\u0303n", "nguyen"),
        ("ＮＧＵＹỄＮ Ｖăｎ Ａｎ", "nguyen van an"),
        ("Phòng ² tầng ³", "phong 2 tang 3"),
        ("Łucja Ødegård", "lucja odegard"),
        ("ÐẶNG ðức", "dang duc"),
        ("Lê-Văn_Tám, 1990", "le van tam 1990"),
    ],
)
def test_the_fold_lowers_strips_marks_and_makes_compatibility_forms_plain(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_nfc_composes_marks() -> None:
    assert nfc("Nguye\u0302\u0303n") == "Nguyễn"


def test_plain_forms_keep_case_and_marks_for_the_tone_key() -> None:
    assert plain_forms("ＨÀ ＮỘＩ") == "HÀ NỘI"
    assert plain_forms("ÐẶNG ðức") == "ĐẶNG đức"
    assert tone_key("ÐẶNG") == tone_key("Đặng")
    assert tone_key("ＤẶＮＧ") == tone_key("Dặng")


@pytest.mark.parametrize(("written", "code"), [("ＬＯＮＧ ＡＮ", "80"), ("ÐỒNG NAI", "75"), ("Tỉnh Ðắk Lắk", "66")])
def test_a_province_in_full_width_letters_or_with_eth_for_d_is_found(written: str, code: str) -> None:
    found = current_province(written)
    assert found is not None
    assert found.code == code


@pytest.mark.parametrize(
    ("written", "plain"),
    [("ÐỒNG NAI", "Đồng Nai"), ("ＶＩＥＮＧ ＣＨＡＮ", "Vieng Chan"), ("Łuang Prabang", "Luang Prabang")],
)
def test_the_engine_keys_a_province_as_its_plain_spelling(written: str, plain: str) -> None:
    assert province_key(Demographics(province=written)) == province_key(Demographics(province=plain))


@pytest.mark.parametrize(
    ("family", "given", "province"),
    [("ÐẶNG", "Ｌａｎ", "ÐỒNG NAI"), ("ＤẶＮＧ", "LAN", "ＤỒＮＧ ＮＡＩ")],
)
def test_a_query_in_full_width_letters_or_with_eth_scores_as_its_plain_spelling(
    family: str, given: str, province: str
) -> None:
    engine = MatchEngine()
    born = dt.date(1984, 6, 2)
    engine.add("dong-nai", Demographics(family="Đặng", given="Lan", birth_date=born, province="Đồng Nai"))
    engine.add("ha-noi", Demographics(family="Đặng", given="Lan", birth_date=born, province="Hà Nội"))
    engine.add("other", Demographics(family="Trần", given="Minh", birth_date=dt.date(1970, 1, 1)))
    plain = engine.search(Demographics(family="Đặng", given="Lan", birth_date=born, province="Đồng Nai"))
    odd = engine.search(Demographics(family=family, given=given, birth_date=born, province=province))
    assert [(m.key, m.grade) for m in odd] == [(m.key, m.grade) for m in plain]
    assert [m.score for m in odd] == pytest.approx([m.score for m in plain])
    assert odd[0].key == "dong-nai"


@pytest.mark.parametrize(
    "written",
    ["+84 912 345 678", "0912345678", "84912345678", "0912.345.678", "+84 (0)912 345 678", "０９１２３４５６７８"],
)
def test_every_writing_of_a_phone_is_one_number(written: str) -> None:
    assert phone_digits(written) == "0912345678"
    assert phone_number(written) == 912345678


@pytest.mark.parametrize("written", [None, "", "12", "+84 12"])
def test_a_missing_or_too_short_phone_is_no_number(written: str | None) -> None:
    assert phone_digits(written) == ""
    assert phone_number(written) == 0


@pytest.mark.parametrize(
    ("full", "parts"),
    [
        ("Nguyễn Thị Minh Khai", ("Nguyễn", "Thị Minh", "Khai")),
        ("  Lê   Tám ", ("Lê", None, "Tám")),
        ("Tám", (None, None, "Tám")),
        ("   ", (None, None, None)),
    ],
)
def test_a_full_name_splits_family_first_and_given_last(
    full: str, parts: tuple[str | None, str | None, str | None]
) -> None:
    assert split_full_name(full) == parts


def test_a_fhir_name_given_only_as_text_splits_like_a_card_name() -> None:
    whole = demographics_of({"resourceType": "Patient", "name": [{"text": "Nguyễn Thị Minh Khai"}]})
    assert (whole.family, whole.middle, whole.given) == ("Nguyễn", "Thị Minh", "Khai")
    single = demographics_of({"resourceType": "Patient", "name": [{"text": "Khai"}]})
    assert (single.family, single.middle, single.given) == (None, None, "Khai")
