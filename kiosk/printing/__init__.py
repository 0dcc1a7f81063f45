"""Printing for the ER and the desk: a temporary identity's wristband and a queue ticket, as PNG and PDF.

Each print is laid out once in millimetres (`layout.Sheet`) and drawn from that one layout as a PNG (the on-screen
preview and what raster label printers take) and as a PDF with its font embedded, so the preview is what prints.
Text is set in DejaVu Sans (Debian's fonts-dejavu-core), which covers every Vietnamese letter and tone mark.
"""

from kiosk.printing.errors import PrintError
from kiosk.printing.layout import Sheet
from kiosk.printing.output import write_sheet
from kiosk.printing.printer import PrintQueue
from kiosk.printing.ticket import QueueTicket, ticket_sheet
from kiosk.printing.wristband import WRISTBAND_HEIGHT_MM, WRISTBAND_WIDTH_MM, Wristband, wristband_sheet

__all__ = [
    "WRISTBAND_HEIGHT_MM",
    "WRISTBAND_WIDTH_MM",
    "PrintError",
    "PrintQueue",
    "QueueTicket",
    "Sheet",
    "Wristband",
    "ticket_sheet",
    "wristband_sheet",
    "write_sheet",
]
