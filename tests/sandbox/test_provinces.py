"""The province tables and the old -> current mapping of the 2025 merger."""

from __future__ import annotations

import pytest

from lookup.domain.provinces import OLD_PROVINCES, PROVINCES, current_province, old_province
from lookup.domain.text import fold


def test_counts_and_codes() -> None:
    assert len(PROVINCES) == 34
    assert len(OLD_PROVINCES) == 63
    assert {p.current_code for p in OLD_PROVINCES} == {p.code for p in PROVINCES}
    assert len({fold(p.name) for p in OLD_PROVINCES}) == 63


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hà Giang", "08"),
        ("Tỉnh Yên Bái", "15"),
        ("bac kan", "19"),
        ("Hoà Bình", "25"),
        ("Vĩnh Phúc", "25"),
        ("Bắc Giang", "24"),
        ("Hải Dương", "31"),
        ("Thái Bình", "33"),
        ("Nam Định", "37"),
        ("Quảng Bình", "44"),
        ("Thừa Thiên Huế", "46"),
        ("Quảng Nam", "48"),
        ("Kon Tum", "51"),
        ("Bình Định", "52"),
        ("Ninh Thuận", "56"),
        ("Phú Yên", "66"),
        ("Bình Thuận", "68"),
        ("Bình Phước", "75"),
        ("Tỉnh Bà Rịa – Vũng Tàu", "79"),
        ("TP.HCM", "79"),
        ("Long An", "80"),
        ("Tiền Giang", "82"),
        ("Trà Vinh", "86"),
        ("Kiên Giang", "91"),
        ("165/7, Phường 9, TP Sóc Trăng", "92"),
        ("Bạc Liêu", "96"),
        ("Quận Cầu Giấy, Thành phố Hà Nội", "01"),
        ("Xã Bình Định, Huyện X, Tỉnh Long An", "80"),
        ("Thanh Hoá", "38"),
    ],
)
def test_old_names_map_to_the_current_unit(text: str, code: str) -> None:
    found = current_province(text)
    assert found is not None
    assert found.code == code


def test_unknown_text_is_none() -> None:
    assert current_province("Paris, France") is None
    assert current_province("") is None


def test_old_province_and_cccd_code() -> None:
    soc_trang = old_province("Sóc Trăng")
    assert soc_trang is not None
    assert soc_trang.cccd_code == "094"
    assert soc_trang.current.name == "Cần Thơ"
