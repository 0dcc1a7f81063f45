"""A sheet written to the file the user named: PNG or PDF by its extension."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from kiosk.printing.errors import PrintError
from kiosk.printing.fonts import Fonts
from kiosk.printing.layout import Sheet
from kiosk.printing.pdf import sheet_pdf
from kiosk.printing.png import sheet_png

FORMATS: Final = (".png", ".pdf")


def write_sheet(sheet: Sheet, fonts: Fonts, path: Path, title: str) -> str:
    """Write `sheet` to `path` as PNG or PDF (by the extension) and answer which ("png" or "pdf")."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PrintError(f"{path.name}: unknown extension {suffix or '(none)'!r}; name a .png or .pdf file")
    if path.is_dir():
        raise PrintError(f"{path}: is a folder; name a .png or .pdf file")
    data = sheet_png(sheet, fonts) if suffix == ".png" else sheet_pdf(sheet, fonts, title)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise PrintError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    return suffix[1:]
