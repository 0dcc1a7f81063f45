"""Lookups per hour over the last day, drawn as a bar chart for the admin screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from kiosk.i18n import Translator
from kiosk.widgets.words import Words

_BARS = " ▁▂▃▄▅▆▇█"


class HourlyChart(Words):
    """A few rows of block characters, one column per hour, the newest hour on the right."""

    DEFAULT_CSS = """
    HourlyChart { height: auto; padding: 0 1; }
    """

    def __init__(self, counts: Sequence[int], t: Translator, *, rows: int = 4, id: str | None = None) -> None:
        super().__init__(self.draw(counts, t, rows=rows), id=id)

    @staticmethod
    def draw(counts: Sequence[int], t: Translator, *, rows: int = 4) -> Text:
        peak = max(counts, default=0)
        text = Text(t("chart.caption", peak=peak, total=sum(counts)) + "\n", style="bold")
        levels = [round(c / peak * rows * 8) if peak else 0 for c in counts]
        for row in range(rows, 0, -1):
            floor = (row - 1) * 8
            line = "".join(_BARS[max(0, min(8, level - floor))] * 2 for level in levels)
            text.append(line + "\n", style="bold cyan")
        width = 2 * len(counts)
        now = t("chart.now")
        text.append(t("chart.start", n=len(counts)).ljust(max(0, width - len(now))) + now, style="bright_black")
        return text
