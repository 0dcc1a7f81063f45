"""The banner across the top of a screen: offline and cached data, break-glass access, tampered documents.

A line may tell an age (`aged`): "saved 11 s ago" is redrawn every second with the app's clock, so the age the
clerk reads is the age of the data now, not when the screen opened. Such a line is still a `str` (its text when
made), so screens hand the banner plain lists of lines either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Self

from rich.text import Text

from kiosk.widgets.context import KioskContext, format_age
from kiosk.widgets.words import Words

TICK_S = 1.0


class AgedLine(str):
    """A banner line that rewrites itself as time passes; as a `str` it is the text it had when made."""

    now: Callable[[], str]

    @classmethod
    def of(cls, write: Callable[[], str]) -> Self:
        line = cls(write())
        line.now = write
        return line


def aged(context: KioskContext, key: str, age_seconds: float) -> AgedLine:
    """The catalogue line `key` with `{age}` filled in from the context's clock: data `age_seconds` old now keeps
    getting older."""
    saved_at = context.clock() - dt.timedelta(seconds=age_seconds)

    def write() -> str:
        age = max(0.0, (context.clock() - saved_at).total_seconds())
        return context.t(key, age=format_age(context.t, age))

    return AgedLine.of(write)


class StatusBanner(Words):
    """Zero or more warning lines the clerk must not miss; hidden when there are none."""

    DEFAULT_CSS = """
    StatusBanner { height: auto; padding: 0 1; display: none; background: $warning; color: black; }
    StatusBanner.-shown { display: block; }
    StatusBanner.-danger { background: $error; color: white; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._lines: list[str] = []

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._tick, name="banner-age")

    def set_lines(self, lines: Sequence[str], *, danger: bool = False) -> None:
        self._lines = list(lines)
        self.set_class(bool(lines), "-shown")
        self.set_class(danger, "-danger")
        self._draw()

    def _tick(self) -> None:
        if any(isinstance(line, AgedLine) for line in self._lines):
            self._draw()

    def _draw(self) -> None:
        self.update(Text("\n".join(f"⚠ {line}" for line in self.lines), style="bold"))

    @property
    def lines(self) -> list[str]:
        return [line.now() if isinstance(line, AgedLine) else line for line in self._lines]
