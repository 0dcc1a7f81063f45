"""Resolve a query's names against the vocabularies: leftover typing, Western order, typos and sound-alikes.

The same folding applies to people as they are added (`spelling`), so query and index always agree on what a
name's id and accent variant mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lookup.domain.text import fold
from lookup.matching.fields import Fields, NameParts
from lookup.matching.normalise import decode_typing, family_canonical, has_accents, tone_key
from lookup.matching.scoring import PreparedName, PreparedQuery
from lookup.matching.vocab import VARIANT_OVERFLOW, Vocabulary

MAX_CLOSE = 40
"""Sound-alike and typo neighbours kept per query name; the rest are too far to matter."""
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Spelling:
    """How one name is stored: the vocabulary key and the accent variant key."""

    key: str
    variant: str


def spelling(text: str, *, canonical: bool = False, accented: bool = False) -> Spelling:
    """The vocabulary key (folded; family variants merged when `canonical`) and the accent variant key.

    `accented` says the whole name was written with accents, so a part without marks really has none (Thanh is
    not Thành). The variant key of a name typed without any accents is `=` and its folded letters: it agrees with
    any accents.
    """
    folded = fold(text)
    key = family_canonical(folded) if canonical else folded
    return Spelling(key=key, variant=tone_key(text) if accented or has_accents(text) else f"={folded}")


def name_accented(name: NameParts) -> bool:
    """Whether any part of the name carries a Vietnamese mark (then the unmarked parts are written as meant)."""
    return has_accents(f"{name.family} {name.middle} {name.given}")


@dataclass(frozen=True, slots=True)
class Vocabularies:
    """The three name vocabularies of an index and its province ids."""

    given: Vocabulary
    family: Vocabulary
    middle: Vocabulary
    provinces: dict[str, int]


def _resolve(text: str, vocab: Vocabulary, canonical: bool) -> str:
    """The text, or its Telex/VNI decoding when only the decoding is a known name."""
    if not text or vocab.count(spelling(text, canonical=canonical).key) > 0:
        return text
    decoded = decode_typing(text)
    if decoded and vocab.count(spelling(decoded, canonical=canonical).key) > 0:
        return decoded
    return text


def _agreeing(vocab: Vocabulary, name_id: int, folded: str, query_variant: str) -> np.ndarray:
    agree = np.zeros(256, dtype=bool)
    accented = not query_variant.startswith("=")
    for number, variant in enumerate(vocab.variant_keys.get(name_id, ())):
        if number >= VARIANT_OVERFLOW:
            break
        if variant.startswith("="):
            agree[number] = variant[1:] == folded
        else:
            same_letters = fold(_DIGITS.sub("", variant)) == folded
            agree[number] = same_letters and (not accented or variant == query_variant)
    return agree


def prepare_name(text: str, vocab: Vocabulary, *, canonical: bool = False, accented: bool = False) -> PreparedName:
    if not text:
        return PreparedName(folded="", name_id=-1, close_ids=np.zeros(0, dtype=np.int32))
    spelled = spelling(text, canonical=canonical, accented=accented)
    name_id = vocab.get(spelled.key)
    close = sorted(vocab.close(spelled.key), key=lambda i: -int(vocab.counts[i]))[:MAX_CLOSE]
    folded = fold(text)
    return PreparedName(
        folded=folded,
        name_id=-1 if name_id is None else name_id,
        close_ids=np.array(close, dtype=np.int32),
        agreeing_variants=np.zeros(256, dtype=bool)
        if name_id is None
        else _agreeing(vocab, name_id, folded, spelled.variant),
    )


def resolve_names(name: NameParts, vocabs: Vocabularies) -> NameParts:
    """Decode leftover typing, then read Western order back when the typed family name is really a given name."""
    family = _resolve(name.family, vocabs.family, canonical=True)
    given = _resolve(name.given, vocabs.given, canonical=False)
    middle = _resolve(name.middle, vocabs.middle, canonical=False)
    resolved = NameParts(family=family, middle=middle, given=given)
    if family and given:
        family_known = vocabs.family.count(spelling(family, canonical=True).key)
        given_as_family = vocabs.family.count(spelling(given, canonical=True).key)
        family_as_given = vocabs.given.count(spelling(family).key)
        if family_known == 0 and given_as_family > 0 and family_as_given > 0:
            return resolved.swapped()
    return resolved


def prepare_query(fields: Fields, vocabs: Vocabularies) -> PreparedQuery:
    name = resolve_names(fields.name, vocabs)
    province = vocabs.provinces.get(fields.province, -1) if fields.province else 0
    accented = name_accented(name)
    given = prepare_name(name.given, vocabs.given, accented=accented)
    family = prepare_name(name.family, vocabs.family, canonical=True, accented=accented)
    reversed_names = None
    if name.family and name.given and (given.name_id < 0 or family.name_id < 0):
        # One of the two is nobody's name as typed: perhaps the boxes were swapped.
        reversed_names = (
            prepare_name(name.family, vocabs.given, accented=accented),
            prepare_name(name.given, vocabs.family, canonical=True, accented=accented),
        )
    return PreparedQuery(
        given=given,
        family=family,
        middle=prepare_name(name.middle, vocabs.middle, accented=accented),
        year=fields.year,
        month=fields.month,
        day=fields.day,
        sex=fields.sex,
        province=province,
        phone=fields.phone,
        address=fields.address,
        reversed_names=reversed_names,
    )
