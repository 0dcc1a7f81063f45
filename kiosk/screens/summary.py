"""The emergency summary: the summary's own alerts (a drug the patient is allergic to) in red, then the critical
facts (blood type, pregnancy, implants, DNR, flags), allergies by criticality, then problems, current medication
reconciled with active e-prescriptions, prescriptions, the encounter timeline, referrals, appointments, labs with
their ranges and flags, and the signed documents they came from. An empty section says what its emptiness means:
none known, no information, or not shared; a section the server sent only part of, or failed to answer for, says so
under its items or in their place (`PatientSummary.completeness`)."""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button

from kiosk.screens.base import KioskScreen
from kiosk.widgets.banner import aged
from kiosk.widgets.clinical import alert_block, critical_block, encounter_timeline
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.messages import IdentityLinkRequested
from kiosk.widgets.patient import PatientCard
from kiosk.widgets.sections import (
    Row,
    Section,
    SectionList,
    allergy_rows,
    appointment_rows,
    document_rows,
    item_rows,
    lab_trends,
    medication_rows,
    problem_rows,
    referral_rows,
)
from kiosk.widgets.words import Words
from lookup import LookupOutcome, LookupSource, PatientRecord, PatientSummary, SignatureStatus
from lookup.domain.temporary import TEMPORARY_SYSTEM, IdentityLink, printed_number

log = logging.getLogger(__name__)


def outcome_warnings(context: KioskContext, outcome: LookupOutcome) -> tuple[list[str], bool]:
    """Banner lines for an outcome: data from the cache (with its age), break-glass, tampered or wrongly signed
    documents."""
    t = context.t
    lines: list[str] = []
    danger = False
    if outcome.source is LookupSource.CACHE:
        lines.append(aged(context, "banner.cached", outcome.age_seconds or 0.0))
    if outcome.reached_through is not None:
        lines.append(t("link.reached-through", number=printed_number(outcome.reached_through)))
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
    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "app.go_back", "back"),
        # Function-like keys: printable ones go to the wedge scanner's detector on a screen without a field.
        ("ctrl+l", "link", "link"),
        ("ctrl+u", "unlink", "undo link"),
    ]

    def __init__(self, context: KioskContext, outcome: LookupOutcome, patient: PatientRecord) -> None:
        super().__init__(context)
        self.outcome = outcome
        self.patient = patient
        self.temporary = next((i.value for i in patient.identifiers if i.system == TEMPORARY_SYSTEM), None)
        """The temporary number of a patient registered without identity (who may be linked to the real one)."""
        self.history: tuple[IdentityLink, ...] | None = None
        """The links and undos of the temporary identity involved; None until the server was asked."""

    @property
    def identity_number(self) -> str | None:
        """The temporary number whose history this screen shows: its own, or the one it was reached through."""
        return self.outcome.reached_through or self.temporary

    def hint_keys(self) -> tuple[str, ...]:
        extra = ("hint.link",) if self.temporary else ("hint.unlink",) if self.outcome.reached_through else ()
        return self.HINT_KEYS + extra

    def banner_lines(self) -> tuple[list[str], bool]:
        return outcome_warnings(self.context, self.outcome)

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield PatientCard(self.context, self.patient, id="patient")
        if self.outcome.reached_through is not None:
            number = printed_number(self.outcome.reached_through)
            yield Words(t("link.reached-through", number=number), classes="explain -warning", id="reached-through")
        if self.identity_number is not None:
            yield Vertical(*self._history_lines(), id="identity-history")
        summary = self.outcome.summary
        with VerticalScroll(id="sections"):
            if summary is None:
                yield Words(t("summary.nothing"), classes="explain")
            else:
                yield from self._sections(summary)
        with Horizontal(classes="actions"):
            yield Button(t("action.new-patient"), id="new", variant="primary")
            if self.temporary is not None:
                yield Button(t("link.button"), id="link", variant="warning")
            elif self.outcome.reached_through is not None:
                yield Button(t("link.undo"), id="unlink", variant="warning")

    def _history_lines(self) -> list[Words]:
        t = self.context.t
        if self.history is None:
            return [Words(t("link.history.loading"), classes="explain")]
        if not self.history:
            return [Words(t("link.history.none"), classes="explain")]
        lines = [Words(t("link.history.title"), classes="section-title")]
        for step in self.history:
            at = step.at.astimezone()
            lines.append(
                Words(
                    t(
                        f"link.history.{step.action}",
                        when=f"{format_date(at.date())} {at:%H:%M}",
                        by=step.staff_id or "—",
                        number=printed_number(step.temporary_number),
                        patient=step.patient_id,
                    ),
                    classes="history-step",
                )
            )
        return lines

    def on_mount(self) -> None:
        super().on_mount()
        if self.identity_number is not None and self.history is None:
            self.run_worker(self._load_history(), name="identity-history", group="identity-history", exclusive=True)

    async def _load_history(self) -> None:
        number = self.identity_number
        if number is None:
            return
        try:
            history = await self.app.services.lookup.get().identity_history(number)  # type: ignore[attr-defined]
        except Exception as exc:  # the history is information; its absence is said, never a crash
            log.warning("identity history failed: %s", type(exc).__name__)
            history = ()
        self.history = tuple(history)
        box = self.query_one("#identity-history", Vertical)
        await box.remove_children()
        await box.mount_all(self._history_lines())

    def action_link(self) -> None:
        if self.temporary is not None:
            self.post_message(IdentityLinkRequested(self.temporary, self.patient))

    def action_unlink(self) -> None:
        if self.outcome.reached_through is not None:
            self.post_message(IdentityLinkRequested(self.outcome.reached_through, self.patient, unlink=True))

    @on(Button.Pressed, "#link")
    def _link_pressed(self) -> None:
        self.action_link()

    @on(Button.Pressed, "#unlink")
    def _unlink_pressed(self) -> None:
        self.action_unlink()

    def _sections(self, summary: PatientSummary) -> ComposeResult:
        ctx = self.context
        t = ctx.t
        state = summary.completeness
        if summary.alerts:
            yield SectionList(ctx, [alert_block(t, summary.alerts)], alert=True, id="alerts")
        head: list[Section | Text] = [
            critical_block(t, summary.critical_facts, state["critical_facts"]),
            Section(t("summary.allergies"), allergy_rows(t, summary.allergies), "allergies", state["allergies"]),
        ]
        # Red edge for what changes treatment now; a blood type alone is information, not a warning.
        high = any(i.criticality == "high" for i in summary.allergies)
        facts = any(f.kind != "blood-type" for f in summary.critical_facts)
        yield SectionList(ctx, head, alert=high or facts, id="critical")

        def section(name: str, title: str, rows: list[Row]) -> Section:
            return Section(t(title), rows, name, state[name])

        yield SectionList(
            ctx,
            [
                section("problems", "summary.problems", problem_rows(ctx, summary.problems)),
                section("medications", "summary.medications", medication_rows(t, summary.medications)),
                section("prescriptions", "summary.prescriptions", item_rows(summary.prescriptions)),
                encounter_timeline(t, summary.encounters, state["encounters"]),
                section("referrals", "summary.referrals", referral_rows(summary.referrals)),
                section("appointments", "summary.appointments", appointment_rows(ctx, summary.appointments)),
                lab_trends(ctx, summary.results, state["results"]),
                section("immunizations", "summary.immunizations", item_rows(summary.immunizations)),
                Section(t("summary.documents"), document_rows(ctx, summary.documents), "documents"),
            ],
            id="sections-list",
        )

    @on(Button.Pressed, "#new")
    async def _new_patient(self) -> None:
        await self.run_action("app.start_over")
