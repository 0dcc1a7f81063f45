"""A sheet drawn as a black-and-white PNG at the label printer's resolution: the file raster printers take and the
on-screen preview."""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageDraw

from kiosk.printing.fonts import MM_PER_PT, Fonts
from kiosk.printing.layout import Modules, Rule, Sheet, Text

DPI: Final = 300
"""The resolution of ER wristband and receipt printers' finer heads (300 dpi; 203 dpi ones scale it down)."""


def _px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def sheet_png(sheet: Sheet, fonts: Fonts, dpi: int = DPI) -> bytes:
    """The PNG of `sheet` (grayscale, white paper, black ink), with its resolution recorded in the file."""
    image = Image.new("L", (_px(sheet.width_mm, dpi), _px(sheet.height_mm, dpi)), 255)
    draw = ImageDraw.Draw(image)
    for item in sheet.items:
        if isinstance(item, Text):
            font = fonts.pillow(item.face, round(item.size_pt * MM_PER_PT / 25.4 * dpi))
            draw.text((_px(item.x_mm, dpi), _px(item.baseline_mm, dpi)), item.text, font=font, fill=0, anchor="ls")
        elif isinstance(item, Modules):
            # Whole pixels per module, so every module is the same size and a scanner sees a regular grid.
            module = max(1, int(item.module_mm / 25.4 * dpi))
            left, top = _px(item.x_mm, dpi), _px(item.y_mm, dpi)
            for r, row in enumerate(item.rows):
                for c, dark in enumerate(row):
                    if dark:
                        x, y = left + c * module, top + r * module
                        draw.rectangle((x, y, x + module - 1, y + module - 1), fill=0)
        elif isinstance(item, Rule):
            y = _px(item.y_mm, dpi)
            thick = max(1, _px(item.thickness_mm, dpi))
            draw.rectangle((_px(item.x_mm, dpi), y, _px(item.x_mm + item.width_mm, dpi), y + thick - 1), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()
