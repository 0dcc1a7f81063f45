"""Is the record a card's identifier found the person the card describes? Name, birth date and sex compared.

A card whose number belongs to one person and whose printed name, birth date or sex to another is either a forged or
mistyped card or a record filed under the wrong number: either way the record must not open by itself. The names
are compared as the matching engine reads them (`lookup.domain.text.fold`: no accents, case or spacing), tolerating
what differs between honest sources of one person: a middle name left out or different (`Nguyễn An` is `Nguyễn Văn
An`), the words in another order (`An Nguyễn Văn`). A field missing on either side is not compared.
"""

from __future__ import annotations

from typing import Literal

from lookup.domain.model import Demographics
from lookup.domain.text import fold

Field = Literal["name", "birth_date", "sex"]


def identity_differences(card: Demographics, record: Demographics) -> tuple[Field, ...]:
    """The fields on which the card and the record disagree; empty when they may be one person."""
    out: list[Field] = []
    if not _same_name(card, record):
        out.append("name")
    if card.birth_date is not None and record.birth_date is not None:
        if card.birth_date != record.birth_date:
            out.append("birth_date")
    elif card.birth_year is not None and record.birth_year is not None and card.birth_year != record.birth_year:
        out.append("birth_date")
    if card.sex is not None and record.sex is not None and card.sex is not record.sex:
        out.append("sex")
    return tuple(out)


def _same_name(card: Demographics, record: Demographics) -> bool:
    mine, theirs = fold(card.full_name).split(), fold(record.full_name).split()
    if not mine or not theirs:
        return True
    if sorted(mine) == sorted(theirs):
        return True
    family = (fold(card.family or ""), fold(record.family or ""))
    given = (fold(card.given or ""), fold(record.given or ""))
    if all(family) and all(given):
        # The middle name is the part sources disagree on most; family and given names must agree.
        return family[0] == family[1] and given[0] == given[1]
    # Only part of a name on one side: every word of the shorter one must be in the other.
    shorter, longer = sorted((mine, theirs), key=len)
    return all(word in longer for word in shorter)
