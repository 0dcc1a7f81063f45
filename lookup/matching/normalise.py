"""Vietnamese-aware name and address keys of the matching engine: what two spellings of one person have in common.

A name is compared on two levels. The *folded* form (`lookup.domain.text.fold`, the fold every package shares)
is what people agree on even when typing without accents; the *tone key* keeps the accents as a secondary signal
(Hùng and Hưng fold to the same letters but are different names). The tone key records the vowel marks and the
tone of each word separately from where the tone sits, so old-style placement (Hoà, Thuý) and new-style (Hòa,
Thúy) are one key.

Text typed with a Vietnamese input method switched off leaves its keystrokes behind ("Nguyeenx" in Telex,
"Nguye6n4" in VNI); `decode_typing` turns them back into letters. Latin names pass through untouched, because a
decoded spelling is only used when the raw spelling is unknown and the decoded one is known (see `engine`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from lookup.domain.text import fold, nfc, plain_forms

_TONE_MARKS: Final = {"\u0300": 2, "\u0301": 1, "\u0309": 3, "\u0303": 4, "\u0323": 5}
"""Combining tone marks: grave (huyền), acute (sắc), hook (hỏi), tilde (ngã), dot below (nặng)."""
_FAMILY_VARIANTS: Final = {"huynh": "hoang", "vo": "vu"}
"""Regional spellings of one family name, folded: Huỳnh is the southern Hoàng, Võ the southern Vũ."""

_TELEX_TONES: Final = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
_VNI_MARKS: Final = {
    "1": "\u0301",
    "2": "\u0300",
    "3": "\u0309",
    "4": "\u0303",
    "5": "\u0323",
    "6": "\u0302",
    "7": "\u031b",
    "8": "\u0306",
}
_TELEX_PAIRS: Final = (
    ("uow", "ươ"),
    ("aa", "â"),
    ("ee", "ê"),
    ("oo", "ô"),
    ("dd", "đ"),
    ("aw", "ă"),
    ("ow", "ơ"),
    ("uw", "ư"),
    ("w", "ư"),
)
_VOWELS: Final = set("aeiouyâêôăơư")


@lru_cache(maxsize=65536)
def tone_key(text: str) -> str:
    """Letters with their vowel marks, and each word's tone as a digit, wherever the tone was placed.

    `Hoà` and `Hòa` give `hoa2`; `Hưng` gives `hưng0`, `Hùng` gives `hung2`.
    """
    words = []
    for word in plain_forms(text).lower().split():
        tone = 0
        letters = []
        for ch in unicodedata.normalize("NFD", word):
            if ch in _TONE_MARKS:
                tone = _TONE_MARKS[ch]
            elif unicodedata.combining(ch) or ch.isalnum() or ch == "đ":
                letters.append(ch)
        base = nfc("".join(letters))
        if base:
            words.append(f"{base}{tone}")
    return " ".join(words)


def has_accents(text: str) -> bool:
    """Whether the text carries any Vietnamese mark at all (typed without accents, it says nothing about them)."""
    return any(ch in "đĐ" or unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", plain_forms(text)))


def family_canonical(folded: str) -> str:
    """The folded family name with regional variants merged (`huynh` -> `hoang`, `vo` -> `vu`)."""
    return _FAMILY_VARIANTS.get(folded, folded)


def _decode_word(word: str) -> str:
    if any(ch.isdigit() for ch in word):
        out: list[str] = []
        for ch in word:
            if ch in _VNI_MARKS and out:
                out.append(_VNI_MARKS[ch])
            elif ch == "9" and out and out[-1] in "dD":
                out[-1] = "đ"
            elif not ch.isdigit():
                out.append(ch)
        return nfc("".join(out))
    tone = ""
    if len(word) > 2 and word[-1] in _TELEX_TONES and any(ch in "aeiouy" for ch in word[:-1]):
        tone = _TELEX_TONES[word[-1]]
        word = word[:-1]
    for typed, letter in _TELEX_PAIRS:
        word = word.replace(typed, letter)
    if tone:
        # The tone sits on the last vowel of the nucleus; where exactly does not matter to `tone_key`.
        positions = [i for i, ch in enumerate(word) if ch in _VOWELS]
        if positions:
            i = positions[-1]
            word = word[: i + 1] + tone + word[i + 1 :]
    return nfc(word)


@lru_cache(maxsize=16384)
def decode_typing(text: str) -> str | None:
    """The text with leftover Telex/VNI keystrokes turned into Vietnamese letters, or None when nothing changes.

    Only plain-ASCII words are decoded; a word already carrying Vietnamese marks was typed with the method on.
    """
    words = plain_forms(text).lower().split()
    if not words or has_accents(text):
        return None
    decoded = [_decode_word(w) if w.isascii() else w for w in words]
    return " ".join(decoded) if decoded != words else None


_PHONETIC_INITIALS: Final = (
    ("ngh", "n"),
    ("ng", "n"),
    ("gh", "g"),
    ("gi", "z"),
    ("tr", "c"),
    ("ch", "c"),
    ("ph", "f"),
    ("th", "t"),
    ("kh", "k"),
    ("qu", "w"),
    ("d", "z"),
    ("r", "z"),
    ("v", "z"),
    ("s", "x"),
    ("k", "c"),
)
_PHONETIC_FINALS: Final = (("nh", "n"), ("ng", "n"), ("ch", "t"), ("c", "t"), ("y", "i"))


@lru_cache(maxsize=65536)
def phonetic(folded: str) -> str:
    """A sound-alike key for a folded name: merges spellings that northern and southern speech confuse.

    `giang`/`dang`/`rang`, `trung`/`chung`, `xuan`/`suan`, `thinh`/`thin`; doubled Latin letters collapse too.
    """
    out = []
    for word in folded.split():
        for typed, sound in _PHONETIC_INITIALS:
            if word.startswith(typed) and len(word) > len(typed):
                word = sound + word[len(typed) :]
                break
        for typed, sound in _PHONETIC_FINALS:
            if word.endswith(typed) and len(word) > len(typed):
                word = word[: -len(typed)] + sound
                break
        word = re.sub(r"(.)\1+", r"\1", word.replace("y", "i"))
        out.append(word)
    return " ".join(out)


@lru_cache(maxsize=65536)
def _feature(word: str) -> npt.NDArray[np.int16]:
    digest = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    bits = np.array([(digest >> i) & 1 for i in range(64)], dtype=np.int16)
    return bits * 2 - 1


_ADDRESS_WORDS: Final = frozenset(
    ("so", "duong", "pho", "phuong", "xa", "quan", "huyen", "thi", "tran", "tinh", "thanh", "tp", "ap", "thon")
)
"""Words every Vietnamese address has: left out, they would make all addresses look alike."""


def _grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


@lru_cache(maxsize=4096)
def address_signature(text: str | None) -> int:
    """A 64-bit SimHash of the folded address words: similar addresses differ in few bits; 0 when absent.

    Each letter trigram votes on every bit; a typo changes a few of many voters, so `23 bennelong cescent` stays a
    few bits from `23 bennelong crescent` while unrelated addresses differ in about half of the 64 bits. Words every
    Vietnamese address has are left out.
    """
    words = [w for w in fold(text).split() if w not in _ADDRESS_WORDS] if text else []
    if not words:
        return 0
    grams = [g for w in words for g in _grams(w)]
    votes = np.sum(np.stack([_feature(g) for g in grams]), axis=0)
    packed = int(np.packbits(votes > 0, bitorder="little").view("<u8")[0])
    signed = packed - (1 << 64) if packed >= (1 << 63) else packed
    return signed or 1
