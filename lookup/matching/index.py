"""The people, as compact columns, and the blocking indexes over them.

Each person costs about 70 bytes in all: a few integers in typed arrays (interned name ids, one-byte accent
variants, the birth date in parts, sex, province, phone) plus one 4-byte slot in each blocking index; keys live in
one byte blob. No Python object is kept per person, so a million people fit in tens of megabytes.

Adding appends to growable `array`s; the first search after a change freezes them into numpy arrays and sorts the
blocking indexes (a CSR layout: the distinct block keys, where each block starts, and the people in key order).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
People = npt.NDArray[np.int32]

_YEAR_BASE = 1800
_NAME_BITS = 24
EMPTY: People = np.zeros(0, dtype=np.int32)


def year_slot(year: int) -> int:
    """The 9-bit birth-year slot of a block key; 0 when the year is unknown."""
    return 0 if year <= 0 else min(max(year - _YEAR_BASE, 1), 511)


def name_year_key(name_id: int, year: int) -> int:
    return (name_id << 9) | year_slot(year)


def name_pair_key(family_id: int, given_id: int) -> int:
    return (family_id << _NAME_BITS) | given_id


def date_key(year: int, month: int, day: int) -> int:
    """Day and month in sorted order, so a date and its day/month swap share one block."""
    return year * 10_000 + min(month, day) * 100 + max(month, day)


class Block:
    """People grouped by one integer key, looked up by key in O(log blocks)."""

    def __init__(self, keys: Ints) -> None:
        members = np.flatnonzero(keys >= 0)
        ordered = np.argsort(keys[members], kind="stable")
        self.order: People = members[ordered].astype(np.int32)
        sorted_keys = keys[members][ordered]
        self.keys, first = np.unique(sorted_keys, return_index=True)
        self.starts = np.append(first, len(sorted_keys)).astype(np.int32)

    def _span(self, key: int) -> tuple[int, int]:
        pos = int(np.searchsorted(self.keys, key))
        if pos < len(self.keys) and int(self.keys[pos]) == key:
            return int(self.starts[pos]), int(self.starts[pos + 1])
        return 0, 0

    def spans(self, keys: Ints) -> tuple[Ints, Ints]:
        """Start and end (in `order`) of each key's block; empty spans for absent keys."""
        pos = np.searchsorted(self.keys, keys)
        inside = pos < len(self.keys)
        found = np.zeros(len(keys), dtype=bool)
        found[inside] = self.keys[pos[inside]] == keys[inside]
        starts = np.where(found, self.starts[np.minimum(pos, len(self.starts) - 1)], 0)
        ends = np.where(found, self.starts[np.minimum(pos + 1, len(self.starts) - 1)], 0)
        return starts.astype(np.int64), ends.astype(np.int64)

    def gather(self, keys: Ints, max_block: int | None = None) -> list[People]:
        """The people of each key's block, leaving out blocks larger than `max_block`."""
        starts, ends = self.spans(keys)
        return [
            self.order[start:end]
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
            if end > start and (max_block is None or end - start <= max_block)
        ]

    def key_range(self, low: int, high: int) -> People:
        """The people whose key is in [low, high): one contiguous run of `order`."""
        first, last = np.searchsorted(self.keys, [low, high])
        return self.order[int(self.starts[first]) : int(self.starts[last])]

    def size(self, key: int) -> int:
        start, end = self._span(key)
        return end - start

    def people(self, key: int) -> People:
        start, end = self._span(key)
        return self.order[start:end]

    @property
    def nbytes(self) -> int:
        return int(self.order.nbytes + self.keys.nbytes + self.starts.nbytes)


class Growing:
    """Columns being appended to, one typed array per field."""

    def __init__(self) -> None:
        self.given = array("i")
        self.given_variant = array("B")
        self.family = array("i")
        self.family_variant = array("B")
        self.middle = array("i")
        self.middle_variant = array("B")
        self.year = array("h")
        self.month = array("b")
        self.day = array("b")
        self.sex = array("b")
        self.province = array("h")
        self.phone = array("q")
        self.address = array("q")
        self.key_blob = bytearray()
        self.key_ends = array("i")

    def __len__(self) -> int:
        return len(self.key_ends)

    def take_columns(self, previous: Frozen | None) -> dict[str, npt.NDArray[Any]]:
        """Every column whole (the frozen part and the rows added since), emptying the rows added since.

        Rows live in one place only: typed arrays until the next freeze, numpy arrays after it. A column's numpy
        dtype is its array's typecode, so each comes out in the dtype `Frozen` declares for it.
        """
        out: dict[str, npt.NDArray[Any]] = {}
        for name in COLUMNS:
            added: array[int] = getattr(self, name)
            fresh = np.frombuffer(added, dtype=np.dtype(added.typecode)).copy() if len(added) else None
            old = getattr(previous, name) if previous is not None else None
            parts = [part for part in (old, fresh) if part is not None]
            out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=np.dtype(added.typecode))
            setattr(self, name, array(added.typecode))
        return out

    def key(self, row: int) -> str:
        start = self.key_ends[row - 1] if row else 0
        return self.key_blob[start : self.key_ends[row]].decode("utf-8")


@dataclass(frozen=True, slots=True)
class Frozen:
    """A searchable snapshot of the columns with its blocking indexes."""

    given: npt.NDArray[np.int32]
    given_variant: npt.NDArray[np.uint8]
    family: npt.NDArray[np.int32]
    family_variant: npt.NDArray[np.uint8]
    middle: npt.NDArray[np.int32]
    middle_variant: npt.NDArray[np.uint8]
    year: npt.NDArray[np.int16]
    month: npt.NDArray[np.int8]
    day: npt.NDArray[np.int8]
    sex: npt.NDArray[np.int8]
    province: npt.NDArray[np.int16]
    phone: npt.NDArray[np.int64]
    address: npt.NDArray[np.int64]
    by_given_year: Block
    by_date: Block
    by_names: Block
    by_family_year: Block
    by_phone: Block
    by_address: tuple[Block, ...]
    """One block per 16-bit band of the address signature: near-identical addresses share at least one band."""

    @property
    def nbytes(self) -> int:
        total = 0
        for part in (getattr(self, f.name) for f in fields(self)):
            total += sum(block.nbytes for block in part) if isinstance(part, tuple) else int(part.nbytes)
        return total

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """What is kept of each person (`COLUMNS`), without the blocking indexes built from it."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = tuple(f.name for f in fields(Frozen) if not f.name.startswith("by_"))
"""What is kept of each person; the rest of a snapshot are the blocking indexes built from these."""
COLUMN_TYPES: dict[str, np.dtype[Any]] = {name: np.dtype(getattr(Growing(), name).typecode) for name in COLUMNS}
"""The numpy dtype of each column, as `Growing` appends it and `Frozen` keeps it."""


def freeze(columns: Growing, previous: Frozen | None = None) -> Frozen:
    """The searchable snapshot: `previous` snapshot's rows followed by the rows added since."""
    return indexed(columns.take_columns(previous))


def indexed(c: dict[str, npt.NDArray[Any]]) -> Frozen:
    """The snapshot of whole columns (one array per name in `COLUMNS`, in its `COLUMN_TYPES` dtype): the columns
    and the blocking indexes sorted from them."""
    month, day, phone, address = c["month"], c["day"], c["phone"], c["address"]
    years = c["year"].astype(np.int64)
    slots = np.where(years > 0, np.clip(years - _YEAR_BASE, 1, 511), 0)
    g64, f64 = c["given"].astype(np.int64), c["family"].astype(np.int64)
    full = (years > 0) & (month > 0) & (day > 0)
    lo = np.minimum(month, day).astype(np.int64)
    hi = np.maximum(month, day).astype(np.int64)
    return Frozen(
        **c,
        by_given_year=Block(np.where(g64 > 0, (g64 << 9) | slots, -1)),
        by_date=Block(np.where(full, years * 10_000 + lo * 100 + hi, -1)),
        by_names=Block(np.where((g64 > 0) & (f64 > 0), (f64 << _NAME_BITS) | g64, -1)),
        by_family_year=Block(np.where(f64 > 0, (f64 << 9) | slots, -1)),
        by_phone=Block(np.where(phone > 0, phone, -1)),
        by_address=tuple(Block(np.where(address != 0, address_band(address, band), -1)) for band in range(BANDS)),
    )


BANDS = 4


def address_band(signature: Ints, band: int) -> Ints:
    """Bits 16*band .. 16*band+15 of the signature."""
    return np.asarray((signature >> (16 * band)) & 0xFFFF, dtype=np.int64)
