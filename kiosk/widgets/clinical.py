"""The clinical reading of a summary, as text blocks of the summary screen: its alerts (red, first), the critical facts
header (blood type, pregnancy, implants, DNR, flags), what an empty section means, allergies by criticality, lab
values with their range and flag, and the encounter timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from rich.text import Text

from kiosk.i18n import Translator
from kiosk.widgets.badge import signature_badge
from kiosk.widgets.context import format_date
from lookup import Alert, CriticalFact, Observation, SectionState, SummaryItem

ALERT_STYLE = "bold white on red"
HIGH_STYLE = "bold red"
_FLAG_LOOK: dict[str, tuple[str, str]] = {
    "H": ("↑ H", "bold red"),
    "HH": ("↑↑ HH", "bold white on red"),
    "L": ("↓ L", "bold blue"),
    "LL": ("↓↓ LL", "bold white on blue"),
    "A": ("! A", "bold yellow"),
}
STATE_STYLE: dict[SectionState, str] = {
    SectionState.NONE_KNOWN: "italic green",
    SectionState.NO_INFORMATION: "italic yellow",
    SectionState.NOT_SHARED: "italic magenta",
    SectionState.INCOMPLETE: "bold yellow",
    SectionState.NOT_READ: "bold yellow",
    SectionState.RECORDED: "",
}


def state_text(t: Translator, section: str, state: SectionState) -> str:
    """What an empty section means, never a bare "none": none known, no information, or not shared."""
    specific = f"state.{state.value}.{section}"
    return t(specific) if t.has(specific) else t(f"state.{state.value}")


def partial_note(t: Translator, section: str, state: SectionState) -> Text:
    """Under a section's items, that they are not all there is (more than received, or not read); else nothing."""
    if not state.partial:
        return Text()
    return Text.assemble("\n", (f"⚠ {state_text(t, section, state)}", STATE_STYLE[state]))


def alert_block(t: Translator, alerts: Sequence[Alert]) -> Text:
    """The summary's own warnings, one per line, white on red."""
    text = Text()
    text.append(f" ⚠ {t('summary.alerts')} ", style=ALERT_STYLE)
    for alert in alerts:
        key = "alert.drug-allergy.class" if alert.drug_class else "alert.drug-allergy"
        klass = f"drugclass.{alert.drug_class}"
        named = t(klass) if t.has(klass) else alert.drug_class
        line = t(key, allergy=alert.allergy, drug=alert.drug, klass=named)
        text.append("\n")
        text.append(f" ⚠ {line} ", style=ALERT_STYLE)
    return text


def critical_block(t: Translator, facts: Sequence[CriticalFact], state: SectionState) -> Text:
    """Blood type and the other facts an emergency team reads before anything else, only those present."""
    text = Text()
    text.append(t("summary.critical"), style="bold underline")
    if not facts:
        text.append("  ")
        text.append(state_text(t, "critical_facts", state), style=STATE_STYLE[state])
        return text
    for fact in facts:
        text.append("\n")
        text.append(f"{t(f'fact.{fact.kind}')}: ", style="bold")
        text.append(fact.text, style="bold red" if fact.kind != "blood-type" else "bold")
        where = fact.provenance.facility_name or fact.provenance.facility_code or ""
        text.append(f"   {format_date(fact.date or fact.provenance.date)}  {where} ")
        text.append(signature_badge(t, fact.provenance.signature))
    return text.append_text(partial_note(t, "critical_facts", state))


def allergy_detail(t: Translator, item: SummaryItem) -> str:
    """Criticality, then the reaction and its severity: `nguy cơ cao · Phản vệ (nặng)`."""
    parts: list[str] = []
    if item.criticality:
        parts.append(t(f"code.{item.criticality}"))
    if item.reaction:
        severity = f" ({t(f'code.{item.reaction_severity}')})" if item.reaction_severity else ""
        parts.append(item.reaction + severity)
    return " · ".join(parts)


def medication_detail(t: Translator, item: SummaryItem) -> str:
    """The dose, and where a current medication is known only from an active e-prescription, that it is."""
    marks = [item.detail or "", t("summary.from-prescription") if item.from_prescription else ""]
    return " · ".join(m for m in marks if m)


def lab_value(observation: Observation) -> Text:
    """`208.5 µmol/L ↑ H (62–106)`: the value, its flag in colour, its reference range."""
    text = Text()
    unit = f" {observation.unit}" if observation.unit else ""
    shown = f"{observation.value:g}" if observation.value is not None else (observation.value_text or "")
    look = _FLAG_LOOK.get(observation.flag or "")
    text.append(f"{shown}{unit}", style=look[1] if look else "")
    if look:
        text.append(f" {look[0]}", style=look[1])
    ranged = reference_range(observation)
    if ranged:
        text.append(f" ({ranged})", style="dim")
    return text


def reference_range(observation: Observation) -> str:
    low, high = observation.low, observation.high
    if low is not None and high is not None:
        return f"{low:g}–{high:g}"
    if high is not None:
        return f"≤ {high:g}"
    if low is not None:
        return f"≥ {low:g}"
    return observation.range_text or ""


def encounter_timeline(t: Translator, encounters: Iterable[SummaryItem], state: SectionState) -> Text:
    """Encounters newest first, one a line: date — facility — type — reason."""
    text = Text()
    text.append(t("summary.timeline"), style="bold underline")
    ordered = sorted(encounters, key=lambda e: e.date or e.provenance.date or dt.date.min, reverse=True)
    if not ordered:
        text.append("  ")
        text.append(state_text(t, "encounters", state), style=STATE_STYLE[state])
        return text
    for item in ordered:
        kind = t(f"code.{item.text}") if t.has(f"code.{item.text}") else item.text
        place = item.provenance.facility_name or item.provenance.facility_code or "—"
        parts = [format_date(item.date or item.provenance.date), place, kind, item.detail or ""]
        text.append("\n● ", style="bold cyan")
        text.append(" — ".join(p for p in parts if p))
        text.append(" ")
        text.append(signature_badge(t, item.provenance.signature))
    return text.append_text(partial_note(t, "encounters", state))
