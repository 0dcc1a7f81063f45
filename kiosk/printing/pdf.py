"""A sheet drawn as a one-page PDF of exactly the label's or ticket's size, its fonts embedded (subset), its code
drawn as vector squares: a printer driver scales nothing and the codes stay sharp."""

from __future__ import annotations

from fpdf import FPDF

from kiosk.printing.fonts import Face, Fonts
from kiosk.printing.layout import Modules, Rule, Sheet, Text


def sheet_pdf(sheet: Sheet, fonts: Fonts, title: str) -> bytes:
    """The PDF of `sheet`; `title` goes in its metadata and must name the kind of print, never the patient."""
    pdf = FPDF(orientation="P", unit="mm", format=(sheet.width_mm, sheet.height_mm))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(title)
    pdf.set_creator("kiosk")
    for face in Face:
        pdf.add_font(face.name.lower(), "", str(fonts.path(face)))
    pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    pdf.set_text_color(0, 0, 0)
    for item in sheet.items:
        if isinstance(item, Text):
            pdf.set_font(item.face.name.lower(), size=item.size_pt)
            pdf.text(item.x_mm, item.baseline_mm, item.text)
        elif isinstance(item, Modules):
            _modules(pdf, item)
        elif isinstance(item, Rule):
            pdf.rect(item.x_mm, item.y_mm, item.width_mm, item.thickness_mm, style="F")
    return bytes(pdf.output())


def _modules(pdf: FPDF, code: Modules) -> None:
    # One rectangle per run of dark modules in a row: far fewer drawing operations than one per module.
    size = code.module_mm
    for r, row in enumerate(code.rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(code.x_mm + start * size, code.y_mm + r * size, (c - start) * size, size, style="F")
