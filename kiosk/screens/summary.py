"""The emergency summary: allergies and alerts first, then problems, medicines, encounters, referrals,
appointments, lab trends and the signed documents they came from."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext, format_age
from kiosk.widgets.patient import PatientCard
from kiosk.widgets.sections import (
    Section,
    SectionList,
    appointment_rows,
    document_rows,
    item_rows,
    lab_trends,
    problem_rows,
    referral_rows,
)
from kiosk.widgets.words import Words
from lookup import LookupOutcome, LookupSource, PatientRecord, PatientSummary, SignatureStatus


def outcome_warnings(context: KioskContext, outcome: LookupOutcome) -> tuple[list[str], bool]:
    """Banner lines for an outcome: data from the cache (with its age), break-glass, tampered or wrongly signed
    documents."""
    t = context.t
    lines: list[str] = []
    danger = False
    if outcome.source is LookupSource.CACHE:
        lines.append(t("banner.cached", age=format_age(t, outcome.age_seconds or 0.0)))
    if outcome.break_glass:
        lines.append(t("banner.break-glass"))
        danger = True
    summary = outcome.summary
    if summary is not None and summary.has_invalid_document:
        # Tampered, or signed with another facility's key: neither may be relied on.
        failed = (SignatureStatus.INVALID, SignatureStatus.SIGNER_MISMATCH)
        count = sum(1 for d in summary.documents if d.signature.status in failed)
        lines.append(t("banner.invalid", n=count))
        danger = True
    return lines, danger


class SummaryScreen(KioskScreen):
    """Everything shared about one patient, each item with the facility, date and signature it came from."""

    HINT_KEYS = ("hint.new", "hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.go_back", "back")]

    def __init__(self, context: KioskContext, outcome: LookupOutcome, patient: PatientRecord) -> None:
        super().__init__(context)
        self.outcome = outcome
        self.patient = patient

    def banner_lines(self) -> tuple[list[str], bool]:
        return outcome_warnings(self.context, self.outcome)

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield PatientCard(self.context, self.patient, id="patient")
        summary = self.outcome.summary
        with VerticalScroll(id="sections"):
            if summary is None:
                yield Words(t("summary.nothing"), classes="explain")
            else:
                yield from self._sections(summary)
        with Horizontal(classes="actions"):
            yield Button(t("action.new-patient"), id="new", variant="primary")

    def _sections(self, summary: PatientSummary) -> ComposeResult:
        ctx = self.context
        alerts = item_rows(summary.allergies, t=ctx.t)
        if summary.blood_type is not None:
            alerts += item_rows([summary.blood_type], label=ctx.t("summary.blood-type"))
        t = ctx.t
        yield SectionList(ctx, [Section(t("summary.allergies"), alerts)], alert=bool(alerts))
        blocks: list[Section | Text] = [
            Section(t("summary.problems"), problem_rows(ctx, summary.problems)),
            Section(t("summary.medications"), item_rows(summary.medications)),
            Section(t("summary.prescriptions"), item_rows(summary.prescriptions)),
            Section(t("summary.encounters"), item_rows(summary.encounters, t=t)),
            Section(t("summary.referrals"), referral_rows(summary.referrals)),
            Section(t("summary.appointments"), appointment_rows(ctx, summary.appointments)),
            lab_trends(ctx, summary.results),
        ]
        if summary.immunizations:
            blocks.append(Section(t("summary.immunizations"), item_rows(summary.immunizations)))
        blocks.append(Section(t("summary.documents"), document_rows(ctx, summary.documents)))
        yield SectionList(ctx, blocks)

    @on(Button.Pressed, "#new")
    async def _new_patient(self) -> None:
        await self.run_action("app.start_over")
