"""CSV the console's exports are written as: a header row, then one row per line, no cell a spreadsheet runs.

A cell that begins like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading
apostrophe, so a spreadsheet shows it as text instead of running it (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TextIO

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The value as a spreadsheet will show it, never run it."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, str]], out: TextIO) -> int:
    """The rows under a header of `columns`; the number of rows written."""
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: safe_cell(value) for name, value in row.items()})
        count += 1
    return count
