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
- `split_full_name`: a whole name in Vietnamese order (family first, given name last, the rest middle);
- `strip_controls` / `inert`: text from a server, a card or a keyboard made harmless to show (below).

Text read from a FHIR server, a cache file, a health card or a scanned code is data, never instructions: a terminal
obeys escape sequences (clear the screen, set the title, write the clipboard with OSC 52), and bidirectional
overrides make `Nguyễn` display as something else. `strip_controls` is the one rule of what never survives
(escape sequences whole, C0 and C1 controls, DEL, bidirectional overrides, isolates and marks, lone surrogates;
line breaks and tabs become a space); `inert` applies it to one field of display text, composed and capped. The
domain models take every text field through `inert`, so every path (network, cache, health links, cards, scans)
passes it; terminal output takes every line through `strip_controls`. Markup (`[bold]`) is not removed here: it is
plain text to the domain, and the kiosk never reads what it shows as markup.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

_WORD: Final = re.compile(r"[^\W_]+")
_ESCAPES: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: ESC [ parameters, intermediates, final
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # the same, as one 8-bit C1 character
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC strings up to BEL or ST
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # the same, introduced by a C1 character
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence (charset, keypad, reset...)
)
"""Terminal escape sequences, removed whole: `ESC [2J` must not leave `[2J` behind, nor OSC 52 its payload. A string
left unterminated runs to the end of the text, as a terminal would read it."""
_BREAKS: Final = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u206f\ud800-\udfff]")
"""C0, DEL and C1 controls; the Arabic letter mark, LRM and RLM; bidirectional embeddings, overrides and isolates
(U+202A-202E, U+2066-2069) and the deprecated format characters after them; lone surrogates (valid JSON, but no
terminal or file can encode them)."""
_UNSAFE: Final = re.compile(f"{_CONTROLS.pattern}|[\u2028\u2029]")
DISPLAY_CHARS: Final = 1000
"""The longest field of display text kept (an allergy, a dosage, a referral reason); longer is cut with `…`."""
NAME_CHARS: Final = 200
"""The longest name kept (a person's name part, a facility, a unit, a code)."""
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


def strip_controls(text: str) -> str:
    """The text without escape sequences, control characters or bidirectional controls; line breaks and tabs become
    one space. Everything else (letters of any script, combining marks, markup-like brackets) is kept as it is."""
    if text.isascii() and text.isprintable():
        return text
    if not _UNSAFE.search(text):
        return text
    return _CONTROLS.sub("", _BREAKS.sub(" ", _ESCAPES.sub("", text)))


def inert(text: str, *, limit: int = DISPLAY_CHARS) -> str:
    """One field of display text made harmless: `strip_controls`, composed (NFC), trimmed, and at most `limit`
    characters (a longer text is cut before a whole letter with its marks, and ends with `…`)."""
    cleaned = strip_controls(text)
    if not cleaned.isascii() and not unicodedata.is_normalized("NFC", cleaned):
        cleaned = nfc(cleaned)
    cleaned = cleaned.strip()
    if len(cleaned) <= limit:
        return cleaned
    cut = max(limit - 1, 0)
    while cut > 0 and unicodedata.combining(cleaned[cut]):
        cut -= 1
    return cleaned[:cut].rstrip() + "…"


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
