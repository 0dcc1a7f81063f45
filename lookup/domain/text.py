"""The one text normalisation every package compares Vietnamese text with: the fold, NFC, phones and full names.

A card, a FHIR server, a clerk's keyboard and a phone scanner write the same name or province in different forms
(accents or none, `Đ` or `D`, composed or decomposed marks, full-width letters from an Asian input method, `Ð`
for `Đ` from an old code page). If two parts of the kiosk folded text differently, a query could pass one
comparison and fail the next; so the province table, the matching engine, the card parsers and the sandbox server
all use the rules here and keep none of their own:

- `fold`: what two spellings of one word have in common (lower case, no marks, compatibility forms plain);
- `plain_forms`: the same letters with case and marks kept, for comparisons that weigh the marks;
- `nfc`: text composed, as it is displayed and stored;
- `phone_digits` / `phone_number`: one reading of a Vietnamese phone number (`+84`, `84` and `0` prefixes);
- `split_full_name`: a whole name in Vietnamese order (family first, given name last, the rest middle).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

_WORD: Final = re.compile(r"[^\W_]+")
_NOT_DIGIT: Final = re.compile(r"[^0-9]")
_LOOKALIKES: Final = str.maketrans({"Ð": "Đ", "ð": "đ"})
"""Eth looks exactly like Đ: Vietnamese Windows-1258 text read as Western European turns Đ/đ into Ð/ð."""
_STROKE_LETTERS: Final = str.maketrans(
    {
        "đ": "d",
        "ł": "l",
        "ƚ": "l",
        "ø": "o",
        "ħ": "h",
        "ŧ": "t",
        "ƀ": "b",
        "ɨ": "i",
        "ƶ": "z",
        "ǥ": "g",
        "ɍ": "r",
        "ʉ": "u",
        "ɇ": "e",
        "ȼ": "c",
        "ɉ": "j",
    }
)
"""Lower-case letters with a stroke or bar: Unicode gives them no decomposition, so the marks cannot be stripped."""


def nfc(text: str) -> str:
    """The text in composed form (`e` + circumflex + tilde becomes `ễ`)."""
    return unicodedata.normalize("NFC", text)


def plain_forms(text: str) -> str:
    """The text composed, with compatibility forms made plain and `Ð` read as `Đ`; case and marks are kept.

    `ＨÀ ＮỘＩ` -> `HÀ NỘI`, `tầng ²` -> `tầng 2`, `ÐẶNG` -> `ĐẶNG`. The fold starts here, and so does anything that
    keeps the marks (the matching engine's tone key), so both agree on what a letter is.
    """
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)


@lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """`plain_forms` in lower case with every mark removed, words joined by single spaces.

    `Đức` -> `duc`, `ＨÀ ＮỘＩ` -> `ha noi`, `Phòng ²` -> `phong 2`, `Łan` -> `lan`. A word is a run of letters
    and digits of any script; everything else separates words.
    """
    decomposed = unicodedata.normalize("NFD", plain_forms(text)).lower()
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_STROKE_LETTERS)
    return " ".join(_WORD.findall(letters))


def phone_digits(text: str | None) -> str:
    """A phone number written the domestic way, digits only: `0` and the national significant number.

    `+84 912 345 678`, `84912345678` and `0912.345.678` are all `0912345678`; "" when absent or shorter than six
    digits after the prefixes.
    """
    if not text:
        return ""
    digits = _NOT_DIGIT.sub("", plain_forms(text))
    if digits.startswith("84") and len(digits) >= 11:
        digits = digits[2:]
    national = digits.lstrip("0")
    if len(national) < 6:
        return ""
    # No national significant number is longer than 15 digits (E.164); more is noise around the number.
    return "0" + national[-15:]


def phone_number(text: str | None) -> int:
    """The national significant number of `phone_digits` as an integer (`0912345678` -> 912345678), 0 when absent."""
    return int(phone_digits(text) or "0")


def split_full_name(full: str) -> tuple[str | None, str | None, str | None]:
    """(family, middle, given) of a whole name in Vietnamese order; a single word is the given name.

    `Nguyễn Thị Minh Khai` -> (`Nguyễn`, `Thị Minh`, `Khai`); a missing part is None.
    """
    parts = full.split()
    if not parts:
        return None, None, None
    if len(parts) == 1:
        return None, None, parts[0]
    return parts[0], " ".join(parts[1:-1]) or None, parts[-1]
