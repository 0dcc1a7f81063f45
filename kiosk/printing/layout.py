"""A print laid out in millimetres: text at a baseline, squares of a code, rules; and the helpers that place them.

Everything a renderer needs is decided here (sizes shrunk to fit, lines wrapped, centring), so the PNG and the PDF
drawn from one `Sheet` agree to the dot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.printing.errors import PrintError
from kiosk.printing.fonts import MM_PER_PT, Face, Fonts


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text, its left end at `x_mm` and its baseline at `baseline_mm` from the top."""

    x_mm: float
    baseline_mm: float
    text: str
    face: Face
    size_pt: float


@dataclass(frozen=True, slots=True)
class Modules:
    """A two-dimensional code: dark squares of `module_mm` from the top-left corner (`x_mm`, `y_mm`); the quiet zone
    is already in `rows`."""

    x_mm: float
    y_mm: float
    module_mm: float
    rows: tuple[tuple[bool, ...], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """A horizontal line across the sheet's printable width."""

    x_mm: float
    y_mm: float
    width_mm: float
    thickness_mm: float = 0.3


Item = Text | Modules | Rule


@dataclass(slots=True)
class Sheet:
    """One label or ticket: its size and what is on it."""

    width_mm: float
    height_mm: float
    items: list[Item] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every line of text on the sheet, top to bottom as laid out."""
        return [item.text for item in self.items if isinstance(item, Text)]


@dataclass(slots=True)
class Column:
    """Lines set one under another within `[left_mm, left_mm + width_mm]`, from `top_mm` down."""

    sheet: Sheet
    fonts: Fonts
    left_mm: float
    width_mm: float
    top_mm: float

    def line(
        self, text: str, face: Face, size_pt: float, *, centre: bool = False, min_pt: float = 6.0, gap_mm: float = 0.0
    ) -> None:
        """One line, shrunk (down to `min_pt`) until it fits the column's width, then cut with an ellipsis.
        `PrintError` when the face lacks a character: a print never carries a box where a letter should be."""
        missing = self.fonts.missing(text, face)
        if missing:
            raise PrintError(f"the print font has no glyph for {len(missing)} character(s) of the text: {missing!r}")
        size = size_pt
        while size > min_pt and self.fonts.width_mm(text, face, size) > self.width_mm:
            size = max(min_pt, size - 0.5)
        shown = _cut(text, face, size, self.fonts, self.width_mm)
        ascent = size * MM_PER_PT * 0.95  # room for a capital with a tone mark above its hat (Ấ)
        baseline = self.top_mm + gap_mm + ascent
        width = self.fonts.width_mm(shown, face, size)
        x = self.left_mm + (self.width_mm - width) / 2 if centre else self.left_mm
        self.sheet.items.append(Text(x, baseline, shown, face, size))
        self.top_mm = baseline + size * MM_PER_PT * 0.26

    def paragraph(self, text: str, face: Face, size_pt: float, *, gap_mm: float = 0.0) -> None:
        """Text wrapped at spaces to the column's width."""
        words = text.split()
        current = ""
        first = True
        for word in words:
            trial = f"{current} {word}".strip()
            if current and self.fonts.width_mm(trial, face, size_pt) > self.width_mm:
                self.line(current, face, size_pt, min_pt=size_pt, gap_mm=gap_mm if first else 0.0)
                first = False
                current = word
            else:
                current = trial
        if current:
            self.line(current, face, size_pt, min_pt=size_pt, gap_mm=gap_mm if first else 0.0)

    def rule(self, gap_mm: float = 1.5) -> None:
        """A line across the column, with `gap_mm` above and below."""
        self.sheet.items.append(Rule(self.left_mm, self.top_mm + gap_mm, self.width_mm))
        self.top_mm += 2 * gap_mm


def _cut(text: str, face: Face, size_pt: float, fonts: Fonts, width_mm: float) -> str:
    if fonts.width_mm(text, face, size_pt) <= width_mm:
        return text
    while text and fonts.width_mm(text + "…", face, size_pt) > width_mm:
        text = text[:-1]
    return text.rstrip() + "…"
