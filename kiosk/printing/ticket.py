"""The queue ticket a patient takes to a department: the queue number large, where to go, when it was issued and
until when it holds, with short directions in Vietnamese and English.

Size: 80 mm receipt paper (the desk's thermal receipt printer), 72 mm printable between 4 mm margins; the ticket is
as long as its text needs. A ticket names no patient: it is handed over, dropped and picked up by others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from kiosk.printing.fonts import Face, Fonts
from kiosk.printing.layout import Column, Sheet
from kiosk.printing.wristband import format_time

TICKET_WIDTH_MM: Final = 80.0
_MARGIN_MM: Final = 4.0
_BOTTOM_MM: Final = 8.0
"""Blank paper after the last line, so the cutter does not cut through it."""


@dataclass(frozen=True, slots=True)
class QueueTicket:
    """What a queue ticket says."""

    queue_number: str
    department: str
    room: str | None
    issued: dt.datetime
    expires: dt.datetime


def end_of_day(moment: dt.datetime) -> dt.datetime:
    """When a ticket issued at `moment` stops holding unless told otherwise: the end of that (local) day."""
    return moment.replace(hour=23, minute=59, second=0, microsecond=0)


def directions(department: str, room: str | None) -> tuple[str, str]:
    """Where to go and what to do there, in Vietnamese and in English."""
    if room:
        return (
            f"Mời quý khách đến {department}, phòng {room}, và chờ gọi số thứ tự trên màn hình.",
            f"Please go to {department}, room {room}, and wait for your number to be called on the screen.",
        )
    return (
        f"Mời quý khách đến {department} và chờ gọi số thứ tự trên màn hình.",
        f"Please go to {department} and wait for your number to be called on the screen.",
    )


def ticket_sheet(ticket: QueueTicket, fonts: Fonts) -> Sheet:
    """The ticket laid out; its height follows its text."""
    sheet = Sheet(TICKET_WIDTH_MM, 0.0)
    column = Column(sheet, fonts, _MARGIN_MM, TICKET_WIDTH_MM - 2 * _MARGIN_MM, _MARGIN_MM)
    column.line("PHIẾU SỐ THỨ TỰ", Face.BOLD, 13, centre=True)
    column.line("Queue ticket", Face.REGULAR, 9, centre=True)
    column.line(ticket.queue_number, Face.NUMBER, 54, centre=True, min_pt=24, gap_mm=2.0)
    column.rule()
    column.line(ticket.department, Face.BOLD, 14, centre=True, min_pt=9)
    if ticket.room:
        column.line(f"Phòng / Room: {ticket.room}", Face.BOLD, 12, centre=True, gap_mm=0.8)
    column.rule()
    column.line(f"Giờ lấy số / Issued: {format_time(ticket.issued)}", Face.REGULAR, 9)
    column.line(f"Hiệu lực đến / Valid until: {format_time(ticket.expires)}", Face.REGULAR, 9, gap_mm=0.5)
    vietnamese, english = directions(ticket.department, ticket.room)
    column.paragraph(vietnamese, Face.REGULAR, 9, gap_mm=2.5)
    column.paragraph(english, Face.REGULAR, 8, gap_mm=1.5)
    sheet.height_mm = column.top_mm + _BOTTOM_MM
    return sheet
