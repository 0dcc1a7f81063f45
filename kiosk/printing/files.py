"""A wristband printed from the app: written as PNG and PDF to the print folder, then sent to the printer if one is
set, so the file is there to print again by hand whatever the printer does."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.printing.errors import PrintError
from kiosk.printing.fonts import Fonts
from kiosk.printing.output import write_sheet
from kiosk.printing.printer import PrintQueue
from kiosk.printing.wristband import Wristband, wristband_sheet


@dataclass(frozen=True, slots=True)
class PrintedBand:
    """Where a wristband went: its two files, and the print queue and job when it was sent to one."""

    png: Path
    pdf: Path
    printer: str | None
    job: str | None


def print_wristband(band: Wristband, folder: Path, printer: str | None, font_dir: Path | None) -> PrintedBand:
    """Write `band` to `folder` (made if missing, readable by this user only) as `wristband-NUMBER.png` and `.pdf`
    and send the PDF to `printer` when one is named; `PrintError` says what failed."""
    queue = PrintQueue.named(printer) if printer is not None else None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise PrintError(f"cannot make the print folder {folder}: {exc.strerror or type(exc).__name__}") from None
    fonts = Fonts(font_dir)
    sheet = wristband_sheet(band, fonts)
    png, pdf = folder / f"wristband-{band.number}.png", folder / f"wristband-{band.number}.pdf"
    for path in (png, pdf):
        write_sheet(sheet, fonts, path, "Wristband")
        # The band names a temporary identity: its files are this user's alone, as the folder is.
        os.chmod(path, 0o600)
    job = queue.send(pdf) if queue is not None else None
    return PrintedBand(png=png, pdf=pdf, printer=printer, job=job)
