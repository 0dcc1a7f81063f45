"""Vietnam's provinces: the 34 units in force since 1 July 2025 and the 63 they replaced.

Cards issued before the merger (and many issued after) still print the old province in the address, so anything
that compares provinces maps old to new first: `current_province("..., Tỉnh Sóc Trăng")` is Cần Thơ.

The merger (Resolution 202/2025/QH15), old units -> the current unit that absorbed them; the current unit keeps the
administrative code of one constituent:

- unchanged (11): Hà Nội 01, Cao Bằng 04, Điện Biên 11, Lai Châu 12, Sơn La 14, Lạng Sơn 20, Quảng Ninh 22,
  Thanh Hóa 38, Nghệ An 40, Hà Tĩnh 42, Huế 46 (formerly Thừa Thiên Huế);
- Tuyên Quang 08 <- Tuyên Quang, Hà Giang; Lào Cai 15 <- Lào Cai, Yên Bái; Thái Nguyên 19 <- Thái Nguyên, Bắc Kạn;
- Bắc Ninh 24 <- Bắc Ninh, Bắc Giang; Phú Thọ 25 <- Phú Thọ, Vĩnh Phúc, Hòa Bình;
- Hải Phòng 31 <- Hải Phòng, Hải Dương; Hưng Yên 33 <- Hưng Yên, Thái Bình;
- Ninh Bình 37 <- Ninh Bình, Hà Nam, Nam Định; Quảng Trị 44 <- Quảng Trị, Quảng Bình;
- Đà Nẵng 48 <- Đà Nẵng, Quảng Nam; Quảng Ngãi 51 <- Quảng Ngãi, Kon Tum; Gia Lai 52 <- Gia Lai, Bình Định;
- Khánh Hòa 56 <- Khánh Hòa, Ninh Thuận; Đắk Lắk 66 <- Đắk Lắk, Phú Yên;
- Lâm Đồng 68 <- Lâm Đồng, Đắk Nông, Bình Thuận; Đồng Nai 75 <- Đồng Nai, Bình Phước;
- TP. Hồ Chí Minh 79 <- TP. Hồ Chí Minh, Bình Dương, Bà Rịa - Vũng Tàu; Tây Ninh 80 <- Tây Ninh, Long An;
- Đồng Tháp 82 <- Đồng Tháp, Tiền Giang; Vĩnh Long 86 <- Vĩnh Long, Bến Tre, Trà Vinh;
- An Giang 91 <- An Giang, Kiên Giang; Cần Thơ 92 <- Cần Thơ, Sóc Trăng, Hậu Giang; Cà Mau 96 <- Cà Mau, Bạc Liêu.

Old units carry their pre-2025 two-digit administrative code; the first three digits of a personal ID number (CCCD)
are that code zero-padded (001 Hà Nội, 079 TP. Hồ Chí Minh, 094 Sóc Trăng), the province of birth registration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from lookup.domain.text import fold


@dataclass(frozen=True, slots=True)
class Province:
    """A current (post-July-2025) provincial unit."""

    code: str
    """Two-digit administrative code."""
    name: str
    """Short name without "Tỉnh"/"Thành phố", e.g. `Cần Thơ`, `TP. Hồ Chí Minh`."""
    city: bool
    """A centrally-governed city (Thành phố) rather than a province (Tỉnh)."""

    @property
    def full_name(self) -> str:
        if self.code == "79":
            return "Thành phố Hồ Chí Minh"
        return f"{'Thành phố' if self.city else 'Tỉnh'} {self.name}"


@dataclass(frozen=True, slots=True)
class OldProvince:
    """One of the 63 units in force until 30 June 2025, as card addresses still print them."""

    code: str
    """Two-digit pre-2025 administrative code; `cccd_code` is it zero-padded to three digits."""
    name: str
    city: bool
    current_code: str
    """Code of the current unit that absorbed it."""

    @property
    def cccd_code(self) -> str:
        return f"0{self.code}"

    @property
    def current(self) -> Province:
        return PROVINCES_BY_CODE[self.current_code]

    @property
    def full_name(self) -> str:
        if self.code == "79":
            return "Thành phố Hồ Chí Minh"
        return f"{'Thành phố' if self.city else 'Tỉnh'} {self.name}"


_CITIES: Final = {"01", "31", "46", "48", "79", "92"}

PROVINCES: Final[tuple[Province, ...]] = tuple(
    Province(code, name, code in _CITIES)
    for code, name in (
        ("01", "Hà Nội"),
        ("04", "Cao Bằng"),
        ("08", "Tuyên Quang"),
        ("11", "Điện Biên"),
        ("12", "Lai Châu"),
        ("14", "Sơn La"),
        ("15", "Lào Cai"),
        ("19", "Thái Nguyên"),
        ("20", "Lạng Sơn"),
        ("22", "Quảng Ninh"),
        ("24", "Bắc Ninh"),
        ("25", "Phú Thọ"),
        ("31", "Hải Phòng"),
        ("33", "Hưng Yên"),
        ("37", "Ninh Bình"),
        ("38", "Thanh Hóa"),
        ("40", "Nghệ An"),
        ("42", "Hà Tĩnh"),
        ("44", "Quảng Trị"),
        ("46", "Huế"),
        ("48", "Đà Nẵng"),
        ("51", "Quảng Ngãi"),
        ("52", "Gia Lai"),
        ("56", "Khánh Hòa"),
        ("66", "Đắk Lắk"),
        ("68", "Lâm Đồng"),
        ("75", "Đồng Nai"),
        ("79", "TP. Hồ Chí Minh"),
        ("80", "Tây Ninh"),
        ("82", "Đồng Tháp"),
        ("86", "Vĩnh Long"),
        ("91", "An Giang"),
        ("92", "Cần Thơ"),
        ("96", "Cà Mau"),
    )
)
PROVINCES_BY_CODE: Final[dict[str, Province]] = {p.code: p for p in PROVINCES}

_OLD_CITIES: Final = {"01", "31", "48", "79", "92"}

OLD_PROVINCES: Final[tuple[OldProvince, ...]] = tuple(
    OldProvince(code, name, code in _OLD_CITIES, current)
    for code, name, current in (
        ("01", "Hà Nội", "01"),
        ("02", "Hà Giang", "08"),
        ("04", "Cao Bằng", "04"),
        ("06", "Bắc Kạn", "19"),
        ("08", "Tuyên Quang", "08"),
        ("10", "Lào Cai", "15"),
        ("11", "Điện Biên", "11"),
        ("12", "Lai Châu", "12"),
        ("14", "Sơn La", "14"),
        ("15", "Yên Bái", "15"),
        ("17", "Hòa Bình", "25"),
        ("19", "Thái Nguyên", "19"),
        ("20", "Lạng Sơn", "20"),
        ("22", "Quảng Ninh", "22"),
        ("24", "Bắc Giang", "24"),
        ("25", "Phú Thọ", "25"),
        ("26", "Vĩnh Phúc", "25"),
        ("27", "Bắc Ninh", "24"),
        ("30", "Hải Dương", "31"),
        ("31", "Hải Phòng", "31"),
        ("33", "Hưng Yên", "33"),
        ("34", "Thái Bình", "33"),
        ("35", "Hà Nam", "37"),
        ("36", "Nam Định", "37"),
        ("37", "Ninh Bình", "37"),
        ("38", "Thanh Hóa", "38"),
        ("40", "Nghệ An", "40"),
        ("42", "Hà Tĩnh", "42"),
        ("44", "Quảng Bình", "44"),
        ("45", "Quảng Trị", "44"),
        ("46", "Thừa Thiên Huế", "46"),
        ("48", "Đà Nẵng", "48"),
        ("49", "Quảng Nam", "48"),
        ("51", "Quảng Ngãi", "51"),
        ("52", "Bình Định", "52"),
        ("54", "Phú Yên", "66"),
        ("56", "Khánh Hòa", "56"),
        ("58", "Ninh Thuận", "56"),
        ("60", "Bình Thuận", "68"),
        ("62", "Kon Tum", "51"),
        ("64", "Gia Lai", "52"),
        ("66", "Đắk Lắk", "66"),
        ("67", "Đắk Nông", "68"),
        ("68", "Lâm Đồng", "68"),
        ("70", "Bình Phước", "75"),
        ("72", "Tây Ninh", "80"),
        ("74", "Bình Dương", "79"),
        ("75", "Đồng Nai", "75"),
        ("77", "Bà Rịa - Vũng Tàu", "79"),
        ("79", "TP. Hồ Chí Minh", "79"),
        ("80", "Long An", "80"),
        ("82", "Tiền Giang", "82"),
        ("83", "Bến Tre", "86"),
        ("84", "Trà Vinh", "86"),
        ("86", "Vĩnh Long", "86"),
        ("87", "Đồng Tháp", "82"),
        ("89", "An Giang", "91"),
        ("91", "Kiên Giang", "91"),
        ("92", "Cần Thơ", "92"),
        ("93", "Hậu Giang", "92"),
        ("94", "Sóc Trăng", "92"),
        ("95", "Bạc Liêu", "96"),
        ("96", "Cà Mau", "96"),
    )
)
OLD_PROVINCES_BY_CODE: Final[dict[str, OldProvince]] = {p.code: p for p in OLD_PROVINCES}
OLD_PROVINCES_BY_NAME: Final[dict[str, OldProvince]] = {p.name: p for p in OLD_PROVINCES}
PROVINCES_BY_NAME: Final[dict[str, Province]] = {p.name: p for p in PROVINCES}

# Spellings seen on cards and typed by clerks beyond "<prefix> <name>", folded (see `fold`).
_EXTRA_ALIASES: Final[dict[str, str]] = {
    "ho chi minh": "79",
    "hcm": "79",
    "tphcm": "79",
    "hcmc": "79",
    "sai gon": "79",
    "ha noi": "01",
    "thua thien hue": "46",
    "thua thien": "46",
    "hue": "46",
    "ba ria vung tau": "79",
    "brvt": "79",
    "vung tau": "79",
    "dak lak": "66",
    "dac lac": "66",
    "dak nong": "68",
    "bac can": "19",
}


@lru_cache(maxsize=1)
def _aliases() -> tuple[re.Pattern[str], dict[str, str]]:
    """Folded name -> current code, and one regex finding any of them as whole words."""
    table: dict[str, str] = {}
    for old in OLD_PROVINCES:
        table[fold(old.name)] = old.current_code
    for new in PROVINCES:
        table.setdefault(fold(new.name), new.code)
    table.update(_EXTRA_ALIASES)
    # "tp ho chi minh" folds to a name starting with "tp": the prefix is optional text before any name.
    names = sorted(table, key=len, reverse=True)
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(n) for n in names) + r")(?![a-z0-9])")
    return pattern, table


def current_province(text: str) -> Province | None:
    """The current province named in `text` (an old or new name, a full address), or None.

    In an address the province comes last, so of several names the last one wins; "Phường Bình Định, ..., Tỉnh
    Long An" is Tây Ninh.
    """
    folded = fold(text)
    if not folded:
        return None
    pattern, table = _aliases()
    found = list(pattern.finditer(folded))
    if not found:
        return None
    last = max(found, key=lambda m: (m.end(), len(m.group(0))))
    return PROVINCES_BY_CODE[table[last.group(0)]]


def old_province(text: str) -> OldProvince | None:
    """The pre-2025 province named in `text` (only old names; a new-only name such as `Huế` maps to its old unit)."""
    folded = fold(text)
    for old in OLD_PROVINCES:
        if fold(old.name) == folded:
            return old
    current = current_province(text)
    if current is None:
        return None
    return next((o for o in OLD_PROVINCES if o.code == current.code), None)


def former_province(text: str) -> OldProvince | None:
    """The pre-2025 unit that `text` (a name or a full address) names by a name the 1 July 2025 merger retired or
    renamed: "..., Tỉnh Long An" is Long An (now in Tây Ninh). None when the name it ends with is a current one."""
    folded = fold(text)
    if not folded:
        return None
    pattern, _ = _aliases()
    found = list(pattern.finditer(folded))
    if not found:
        return None
    last = max(found, key=lambda m: (m.end(), len(m.group(0))))
    old = next((o for o in OLD_PROVINCES if fold(o.name) == last.group(0)), None)
    if old is None or fold(old.current.name) == fold(old.name):
        return None
    return old
