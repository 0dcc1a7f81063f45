"""Interned name vocabularies: each distinct folded name once, people refer to it by a small integer.

A population of millions has only thousands of distinct given names, so the fuzzy and phonetic work of a query is
done once over the vocabulary, never over people. Each folded name also remembers its accented spellings (by tone
key) as small variant numbers, so the accents stay available as a secondary signal at one byte per person.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Sequence

from rapidfuzz import process
from rapidfuzz.distance import OSA

from lookup.matching.normalise import phonetic

MISSING = 0
"""The id of an absent name."""
VARIANT_OVERFLOW = 255
"""The variant number of a spelling beyond the 254 a name can remember (compared as `accents differ`)."""
PROVINCE_LIMIT = 32_000
"""Province ids stop here (they live in a 16-bit column); beyond it, provinces share the last id."""


def typo_budget(folded: str) -> int:
    """How many edits still count as a typo of a name this long: 1 up to 7 letters, then 2."""
    return 1 if len(folded) <= 7 else 2


class Vocabulary:
    """Distinct folded names with their counts, accented variants and phonetic keys."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": MISSING}
        self.names: list[str] = [""]
        self.counts = array("q", [0])
        self._variants: dict[tuple[int, str], int] = {}
        self.variant_keys: defaultdict[int, list[str]] = defaultdict(list)
        self._phonetic: defaultdict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self.names)

    def intern(self, folded: str, tone: str) -> tuple[int, int]:
        """(name id, variant number) of a spelling, counting one more person who carries it."""
        if not folded:
            return MISSING, 0
        name_id = self._ids.get(folded)
        if name_id is None:
            name_id = len(self.names)
            self._ids[folded] = name_id
            self.names.append(folded)
            self.counts.append(0)
            self._phonetic[phonetic(folded)].append(name_id)
        self.counts[name_id] += 1
        return name_id, self._variant(name_id, tone)

    def _variant(self, name_id: int, tone: str) -> int:
        variant = self._variants.get((name_id, tone))
        if variant is None:
            known = self.variant_keys[name_id]
            if len(known) >= VARIANT_OVERFLOW:
                return VARIANT_OVERFLOW
            variant = len(known)
            known.append(tone)
            self._variants[(name_id, tone)] = variant
        return variant

    def spellings(self) -> list[list[str]]:
        """The accent variant keys of each name id, in id and variant order: with `names` and `counts`, all that
        `restore` needs to make the same vocabulary again."""
        return [list(self.variant_keys.get(name_id, ())) for name_id in range(len(self.names))]

    @classmethod
    def restore(cls, names: Sequence[str], counts: Sequence[int], spellings: Sequence[Sequence[str]]) -> Vocabulary:
        """The vocabulary `names`, `counts` and `spellings` were read from; `ValueError` when they do not fit
        together (a name twice, an id without a spelling, counts of another length)."""
        if not (len(names) == len(counts) == len(spellings)) or not names or names[0] != "" or counts[0] != 0:
            raise ValueError("the vocabulary parts do not fit together")
        vocabulary = cls()
        for name_id in range(1, len(names)):
            folded, count, tones = names[name_id], counts[name_id], spellings[name_id]
            if not isinstance(folded, str) or not folded or folded in vocabulary._ids:
                raise ValueError("a vocabulary name is empty, repeated, or not text")
            if not isinstance(count, int) or count < 0:
                raise ValueError("a vocabulary count is not a whole number of people")
            if not 1 <= len(tones) <= VARIANT_OVERFLOW or not all(isinstance(t, str) for t in tones):
                raise ValueError("a vocabulary name has no spelling, too many, or one that is not text")
            if len(set(tones)) != len(tones):
                raise ValueError("a vocabulary name has one spelling twice")
            vocabulary._ids[folded] = name_id
            vocabulary.names.append(folded)
            vocabulary.counts.append(count)
            vocabulary._phonetic[phonetic(folded)].append(name_id)
            vocabulary.variant_keys[name_id] = list(tones)
            vocabulary._variants.update(((name_id, tone), number) for number, tone in enumerate(tones))
        return vocabulary

    def get(self, folded: str) -> int | None:
        return self._ids.get(folded)

    def count(self, folded: str) -> int:
        name_id = self._ids.get(folded)
        return 0 if name_id is None else int(self.counts[name_id])

    def variant(self, name_id: int, tone: str) -> int | None:
        return self._variants.get((name_id, tone))

    def close(self, folded: str) -> set[int]:
        """Ids of names within a typo of `folded` or sounding alike (never the name itself)."""
        if not folded:
            return set()
        found = {
            int(index)
            for _, _, index in process.extract(
                folded, self.names, scorer=OSA.distance, score_cutoff=typo_budget(folded), limit=None
            )
        }
        found.update(self._phonetic.get(phonetic(folded), ()))
        found.discard(MISSING)
        own = self._ids.get(folded)
        if own is not None:
            found.discard(own)
        return found
