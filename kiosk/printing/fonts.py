"""The fonts a print is set in, found on the system, and text measured in them.

DejaVu Sans covers the whole Vietnamese alphabet with its precomposed tone marks, and Debian ships it as
fonts-dejavu-core (`.ci/setup` installs it); a machine that keeps it elsewhere names the folder in `print_font_dir`.
The same files are drawn into the PNG and embedded in the PDF, so both measure text alike.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Final

from fontTools.ttLib import TTFont
from PIL import ImageFont

from kiosk.printing.errors import PrintError

SEARCHED: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)
"""Where Debian, Arch and Fedora put DejaVu."""
MM_PER_PT: Final = 25.4 / 72
_MEASURE_PX: Final = 1000
"""Text is measured at this pixel size and scaled: the widths are then exact to a thousandth of the font size."""


class Face(StrEnum):
    """The three faces a print uses; each value is its file name."""

    REGULAR = "DejaVuSans.ttf"
    BOLD = "DejaVuSans-Bold.ttf"
    NUMBER = "DejaVuSansMono-Bold.ttf"
    """Numbers read aloud or typed: every digit the same width, 0 and O told apart."""


class Fonts:
    """The font files of one print run."""

    def __init__(self, folder: Path | None = None) -> None:
        folders = (folder,) if folder is not None else SEARCHED
        self._paths: dict[Face, Path] = {}
        for face in Face:
            found = next((f / face.value for f in folders if (f / face.value).is_file()), None)
            if found is None:
                where = str(folder) if folder is not None else "the system's font folders"
                raise PrintError(
                    f"the font {face.value} is not in {where}: install Debian's fonts-dejavu-core "
                    "or name its folder in the print_font_dir setting (KIOSK_PRINT_FONT_DIR)"
                )
            self._paths[face] = found

    def path(self, face: Face) -> Path:
        """The file of `face`."""
        return self._paths[face]

    def width_mm(self, text: str, face: Face, size_pt: float) -> float:
        """How wide `text` is, set in `face` at `size_pt` points."""
        return _font(self._paths[face], _MEASURE_PX).getlength(text) / _MEASURE_PX * size_pt * MM_PER_PT

    def missing(self, text: str, face: Face) -> str:
        """The characters of `text` that `face` has no glyph for (they would print as empty boxes)."""
        covered = _characters(self._paths[face])
        return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in covered}))

    def pillow(self, face: Face, size_px: int) -> ImageFont.FreeTypeFont:
        """The Pillow font of `face` at `size_px` pixels."""
        return _font(self._paths[face], size_px)


@lru_cache(maxsize=8)
def _characters(path: Path) -> frozenset[int]:
    cmap: dict[int, str] = TTFont(str(path), lazy=True).getBestCmap()
    return frozenset(cmap)


@lru_cache(maxsize=64)
def _font(path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size_px)
