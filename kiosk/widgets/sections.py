"""The emergency summary's sections: one table per section, each row with its facility, date and signature."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from kiosk.i18n import Translator
from kiosk.widgets.badge import signature_badge
from kiosk.widgets.clinical import (
    HIGH_STYLE,
    STATE_STYLE,
    allergy_detail,
    lab_value,
    medication_detail,
    partial_note,
    state_text,
)
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.words import clip
from lookup import (
    Appointment,
    DocumentInfo,
    Observation,
    Provenance,
    Referral,
    SectionState,
    SignatureStatus,
    SummaryItem,
)

_EPOCH = dt.date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a section, already reduced to what the clerk reads."""

    text: str
    detail: str
    provenance: Provenance
    date_text: str
    style: str = ""
    """How what and detail are drawn: a high-criticality allergy in red."""


def coded(t: Translator | None, value: str) -> str:
    """A FHIR code a document carries as text (`low`, `active`, `ambulatory`) in the clerk's words, when known."""
    if t is not None and value and t.has(f"code.{value}"):
        return t(f"code.{value}")
    return value


def item_rows(items: Iterable[SummaryItem], *, label: str = "", t: Translator | None = None) -> list[Row]:
    """Newest first; `label` goes before each text (e.g. "Blood type")."""
    return [
        Row(
            f"{label}: {i.text}" if label else coded(t, i.text),
            coded(t, i.detail or ""),
            i.provenance,
            _item_date(i),
        )
        for i in sorted(items, key=_item_day, reverse=True)
    ]


def allergy_rows(t: Translator, items: Iterable[SummaryItem]) -> list[Row]:
    """In the order given (the summary puts high criticality first), with the reaction; high criticality in red."""
    return [
        Row(i.text, allergy_detail(t, i), i.provenance, _item_date(i), HIGH_STYLE if i.criticality == "high" else "")
        for i in items
    ]


def medication_rows(t: Translator, items: Iterable[SummaryItem]) -> list[Row]:
    """Current medication, newest first, each known only from an e-prescription marked as such."""
    return [
        Row(i.text, medication_detail(t, i), i.provenance, _item_date(i))
        for i in sorted(items, key=_item_day, reverse=True)
    ]


def problem_rows(context: KioskContext, items: Iterable[SummaryItem]) -> list[Row]:
    """One row per problem (its newest record), saying how many documents mention it."""
    newest: dict[tuple[str, str | None], SummaryItem] = {}
    counts: dict[tuple[str, str | None], int] = defaultdict(int)
    for item in sorted(items, key=_item_day, reverse=True):
        key = (item.text.casefold(), item.code)
        counts[key] += 1
        newest.setdefault(key, item)
    rows = []
    for key, item in newest.items():
        detail = coded(context.t, item.detail or "")
        if counts[key] > 1:
            detail = ", ".join(p for p in (detail, context.t("summary.times", n=counts[key])) if p)
        rows.append(Row(item.text, detail, item.provenance, _item_date(item)))
    return rows


def _item_day(item: SummaryItem) -> dt.date:
    return item.date or item.provenance.date or _EPOCH


def _item_date(item: SummaryItem) -> str:
    return format_date(item.date or item.provenance.date)


def referral_rows(referrals: Iterable[Referral]) -> list[Row]:
    return [
        Row(r.reason, " → ".join(f for f in (r.from_facility, r.to_facility) if f), r.provenance, format_date(r.date))
        for r in referrals
    ]


def appointment_rows(context: KioskContext, appointments: Iterable[Appointment]) -> list[Row]:
    return [
        Row(
            a.description or a.facility_name or "",
            context.t(f"appt.{a.status}"),
            a.provenance,
            a.start.strftime("%d/%m/%Y %H:%M"),
        )
        for a in sorted(appointments, key=lambda a: a.start)
    ]


def document_rows(context: KioskContext, documents: Iterable[DocumentInfo]) -> list[Row]:
    return [
        Row(
            d.title or context.t(f"doc.{d.type.value}"),
            d.signature.issuer or "",
            Provenance(
                facility_code=d.facility_code,
                facility_name=d.facility_name,
                document_id=d.id,
                document_type=d.type,
                date=d.date,
                signature=d.signature.status,
            ),
            format_date(d.date),
        )
        for d in documents
    ]


@dataclass(frozen=True, slots=True)
class Section:
    """A titled list of rows, laid out in columns at whatever width the screen has."""

    title: str
    rows: Sequence[Row]
    name: str = ""
    """The section's name in `PatientSummary.completeness`, for wording what an empty one means."""
    state: SectionState = SectionState.NO_INFORMATION


class SectionList(Widget):
    """Many sections drawn as one widget, laid out as plain columns.

    A summary has a dozen sections; as separate widgets with Rich tables each costs style, measure and render
    passes, and the ER summary must be on screen within half a second of a scan. Columns here are computed once per
    width: what and detail wrap, facility, date and signature stay on one line.
    """

    DEFAULT_CSS = """
    SectionList { height: auto; margin: 0 0 1 0; }
    SectionList.-alert { border-left: thick $error; padding-left: 1; }
    """

    def __init__(
        self, context: KioskContext, blocks: Sequence[Section | Text], *, alert: bool = False, id: str | None = None
    ) -> None:
        super().__init__(classes="-alert" if alert else "", id=id)
        self._kiosk = context
        self._blocks = blocks
        self._laid_out: tuple[int, Text] | None = None

    def render(self) -> Text:
        return self._layout(self.content_size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._layout(width).split())

    def _layout(self, width: int) -> Text:
        if self._laid_out is not None and self._laid_out[0] == width:
            return self._laid_out[1]
        out = Text()
        for block in self._blocks:
            out.append_text(block if isinstance(block, Text) else self._section(block, max(width, 40)))
            out.append("\n\n")
        out.rstrip()
        self._laid_out = (width, out)
        return out

    def _section(self, section: Section, width: int) -> Text:
        t = self._kiosk.t
        text = Text()
        text.append(section.title, style="bold underline")
        if not section.rows:
            text.append("  ")
            text.append(state_text(t, section.name, section.state), style=STATE_STYLE[section.state])
            return text
        badges = [signature_badge(t, row.provenance.signature) for row in section.rows]
        # Fixed widths for date and signature keep the columns of every section in line with each other.
        date_w = max(16, cell_len(t("col.date")))
        sign_w = max(cell_len(t("col.signature")), *(signature_badge(t, s).cell_len for s in SignatureStatus))
        place_w = min(28, max(12, width // 5))
        rest = max(20, width - date_w - sign_w - place_w - 4)
        what_w = rest * 3 // 5
        detail_w = rest - what_w - 1
        widths = (what_w, detail_w, place_w, date_w)
        header = (t("col.what"), t("col.detail"), t("col.facility"), t("col.date"))
        text.append("\n" + _cells(header, widths) + " " + t("col.signature"), style="dim")
        for row, badge in zip(section.rows, badges, strict=True):
            place = row.provenance.facility_name or row.provenance.facility_code or "—"
            columns = [
                textwrap.wrap(row.text, what_w) or [""],
                textwrap.wrap(row.detail, detail_w) or [""],
                [clip(place, place_w)],  # cut names end with an ellipsis
                [row.date_text],
            ]
            for line in range(max(len(c) for c in columns)):
                cells = tuple(c[line] if line < len(c) else "" for c in columns)
                text.append("\n")
                text.append(_cells(cells[:2], widths[:2]), style=row.style)
                text.append(" " + _cells(cells[2:], widths[2:]) + " ")
                if line == 0:
                    text.append_text(badge)
        return text.append_text(partial_note(t, section.name, section.state))


def _cells(values: tuple[str, ...], widths: tuple[int, ...]) -> str:
    return " ".join(set_cell_size(value, width) for value, width in zip(values, widths, strict=True))


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Values drawn oldest to newest as block characters, lowest to highest."""
    low, high = min(values), max(values)
    span = high - low
    return "".join(_SPARKS[round((v - low) / span * (len(_SPARKS) - 1)) if span else 3] for v in values)


def lab_trends(
    context: KioskContext, results: Sequence[Observation], state: SectionState = SectionState.NO_INFORMATION
) -> Text:
    """One sparkline per lab test, with the latest value, its flag and reference range, date, facility and
    signature."""
    t = context.t
    text = Text()
    text.append(t("summary.labs"), style="bold underline")
    series: dict[str, list[Observation]] = defaultdict(list)
    for observation in results:
        if observation.value is not None:
            series[observation.code].append(observation)
    if not series:
        return Text.assemble(text, "  ", Text(state_text(t, "results", state), style=STATE_STYLE[state]))
    for observations in series.values():
        observations.sort(key=lambda o: o.date or _EPOCH)
        latest = observations[-1]
        text.append("\n")
        text.append(f"{latest.name[:26]:<27}")
        text.append(f"{sparkline([o.value or 0.0 for o in observations]):<13}", style="bold cyan")
        text.append_text(lab_value(latest))
        text.append(f"  {format_date(latest.date)}  {latest.provenance.facility_name or ''} ")
        text.append(signature_badge(t, latest.provenance.signature))
    return text.append_text(partial_note(t, "results", state))
