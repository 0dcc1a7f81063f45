"""Fellegi-Sunter field weights, estimated offline and shipped as `weights.json` beside this module.

For every field and agreement level, `m` is the probability of that level when query and record are the same
person and `u` when they are not; the level adds log2(m/u) bits to the score. `benchmarks/estimate_weights.py`
counts them on true and random pairs of the synthetic population (and rewrites the file). Exact agreement on a name
is weighted by how common that name is in the indexed population instead of by `u` (term frequency): agreeing on
Nguyễn says little, agreeing on a rare given name a lot.
"""

from __future__ import annotations

import math
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

WEIGHTS_FILE = Path(__file__).with_name("weights.json")


class NameLevel(IntEnum):
    """How two names compare."""

    MISSING = 0
    EXACT = 1
    ACCENT = 2
    """Same letters once folded, different accents or a regional variant (Hùng/Hưng, Hoàng/Huỳnh)."""
    CLOSE = 3
    """Within a typo, or sounding alike."""
    DIFFERS = 4


class BirthLevel(IntEnum):
    """How two birth dates compare."""

    MISSING = 0
    EXACT = 1
    SWAPPED = 2
    YEAR = 3
    """The years agree; one side knows only the year."""
    YEAR_PARTIAL = 4
    """The years agree, and the day or the month."""
    YEAR_ONLY = 5
    """The years agree; day and month both differ."""
    NEAR = 6
    """The years are one apart; nothing else disagrees."""
    DIFFERS = 7


class FlagLevel(IntEnum):
    """Agreement of a field compared as a whole: sex, province, phone."""

    MISSING = 0
    AGREES = 1
    DIFFERS = 2


class AddressLevel(IntEnum):
    """How two addresses compare, by the Hamming distance of their signatures."""

    MISSING = 0
    AGREES = 1
    CLOSE = 2
    SIMILAR = 3
    DIFFERS = 4


ADDRESS_BITS = (4, 10, 16)
"""Most bits apart of two signatures that still `agree` (give or take a typo), are `close`, are `similar`."""

NAME_FIELDS = ("given", "family", "middle")
FLAG_FIELDS = ("sex", "province", "phone")
LEVELS: dict[str, type[IntEnum]] = {
    "given": NameLevel,
    "family": NameLevel,
    "middle": NameLevel,
    "birth": BirthLevel,
    "sex": FlagLevel,
    "province": FlagLevel,
    "phone": FlagLevel,
    "address": AddressLevel,
}


class Probabilities(BaseModel):
    """m and u of one agreement level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: Annotated[float, Field(gt=0.0, le=1.0)]
    u: Annotated[float, Field(gt=0.0, le=1.0)]

    @property
    def bits(self) -> float:
        return math.log2(self.m / self.u)


class Grading(BaseModel):
    """When a best match is `certain` or `probable` (see `grading`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    certain_bits: float
    """Bits the best match must score above log2(population)."""
    runner_up_gap_bits: float
    """Bits the runner-up must trail the best match by."""
    probable_bits: float
    """Bits above log2(population) for `probable`."""
    term_frequency_prior: float
    """Pseudo-count of people pulling a name's frequency towards the global `u` (small populations)."""


class WeightTable(BaseModel):
    """The whole weights file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    fields: dict[str, dict[str, Probabilities]]
    grading: Grading

    def bits(self, field: str) -> npt.NDArray[np.float64]:
        """Weight in bits of each level of a field, indexed by level number (MISSING is 0 bits)."""
        levels = LEVELS[field]
        table = np.zeros(len(levels), dtype=np.float64)
        for level in levels:
            if level.value == 0:
                continue
            table[level.value] = self.fields[field][level.name.lower()].bits
        return table


@lru_cache(maxsize=1)
def load_weights() -> WeightTable:
    return WeightTable.model_validate_json(WEIGHTS_FILE.read_text(encoding="utf-8"))
