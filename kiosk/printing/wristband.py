"""The wristband of a temporary identity: its alias, its number (printed and as a QR code) and the arrival time.

Size: the printable area of a standard adult patient wristband, 1 in x 11 in (25.4 x 279.4 mm) stock such as the
thermal bands of ER label printers, taken as 25 x 280 mm, landscape. The QR code sits at the start of the band, the
text beside it; the rest of the band is left for the clasp and the overlap around the wrist.
The QR code holds the number alone (`TMP-1234-5678-9`): no name and nothing clinical is ever in a code on a wrist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from kiosk.printing.fonts import Face, Fonts
from kiosk.printing.layout import Column, Modules, Sheet
from kiosk.printing.qr import qr_rows
from lookup.domain.temporary import printed_number, temporary_alias

WRISTBAND_WIDTH_MM: Final = 280.0
WRISTBAND_HEIGHT_MM: Final = 25.0
_MARGIN_MM: Final = 2.0
_TEXT_WIDTH_MM: Final = 150.0
"""Text stays on the part of the band that lies flat on the back of the wrist."""


@dataclass(frozen=True, slots=True)
class Wristband:
    """What a temporary identity's wristband says: its number (canonical, check digit verified) and, when known, the
    arrival time."""

    number: str
    arrival: dt.datetime | None


def format_time(moment: dt.datetime) -> str:
    """A time as the ward reads it: local time, day/month/year, 24 hours."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.strftime("%d/%m/%Y %H:%M")


def wristband_sheet(band: Wristband, fonts: Fonts) -> Sheet:
    """The wristband laid out."""
    sheet = Sheet(WRISTBAND_WIDTH_MM, WRISTBAND_HEIGHT_MM)
    printed = printed_number(band.number)
    rows = qr_rows(printed)
    side = WRISTBAND_HEIGHT_MM - 2 * _MARGIN_MM
    sheet.items.append(Modules(_MARGIN_MM + 2.0, _MARGIN_MM, side / len(rows), rows))
    left = _MARGIN_MM + 2.0 + side + 3.0
    column = Column(sheet, fonts, left, _TEXT_WIDTH_MM, _MARGIN_MM)
    column.line(temporary_alias(band.number), Face.BOLD, 14)
    column.line(printed, Face.NUMBER, 16, gap_mm=0.8)
    if band.arrival is not None:
        column.line(f"Đến lúc / Arrived: {format_time(band.arrival)}", Face.REGULAR, 10, gap_mm=0.8)
    else:
        column.line("Giờ đến: chưa rõ / Arrival time not known", Face.REGULAR, 10, gap_mm=0.8)
    return sheet
