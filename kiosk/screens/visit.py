"""Reception and lobby: who arrived, today's appointments with a check-in button on each row (the first has the
focus), a walk-in without an appointment (a department, at reception a chief complaint), the queue ticket the
server gives, and (reception) referrals. The lobby shows appointments as time, department and place only."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button

from kiosk.dialogs.notice import NoticeDialog
from kiosk.dialogs.second_factor import SecondFactorDialog
from kiosk.screens.base import KioskScreen
from kiosk.screens.lobby_ticket import LobbyTicketScreen, print_ticket
from kiosk.screens.summary import outcome_warnings
from kiosk.widgets.context import KioskContext
from kiosk.widgets.insurance import insurance_lines, ticket_flag
from kiosk.widgets.messages import AppointmentsLoaded, CheckInFinished
from kiosk.widgets.patient import PatientCard
from kiosk.widgets.sections import Section, SectionList, referral_rows
from kiosk.widgets.ticket import TicketCard
from kiosk.widgets.words import Words
from lookup import (
    CHIEF_COMPLAINTS,
    Appointment,
    Department,
    LookupOutcome,
    LookupStatus,
    PatientRecord,
    Ticket,
    WalkInResult,
)
from lookup.domain.model import Eligibility
from lookup.domain.second_factor import second_factor

if TYPE_CHECKING:
    from lookup import LookupService

_CHECKED_IN = {"arrived", "checked-in", "fulfilled"}
log = logging.getLogger(__name__)


class VisitScreen(KioskScreen):
    """Check-in for a patient who was identified; in the lobby with large buttons and nothing clinical."""

    HINT_KEYS = ("hint.new", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.start_over", "new")]

    def __init__(
        self,
        context: KioskContext,
        outcome: LookupOutcome,
        patient: PatientRecord,
        lookup: LookupService,
        *,
        appointments: list[Appointment] | None = None,
        insurance: Eligibility | None = None,
    ) -> None:
        super().__init__(context)
        self.outcome = outcome
        self.insurance = insurance
        """The scanned insurance card's validity: the card's own dates until the gateway answers (reception only)."""
        self._insurance_asked = False
        self._insurance_answered = False
        self.patient = patient
        self.appointments = appointments
        """Today's appointments; None until loaded (given up front, they are not asked of the server)."""
        self._lookup = lookup
        self._results: dict[str, str] = {}
        self.appointments_refused = False
        """The server answered with another person's appointments: none are shown, and the screen says so."""
        self.departments: list[Department] = []
        self.complaint: str | None = None
        """The chief complaint chosen for a walk-in (reception only: the lobby asks none, it is clinical)."""
        self._walk_in_key = uuid.uuid4().hex
        """One walk-in per visit screen: pressing again after a failure retries the same visit, never a second."""
        self.walk_in_result: WalkInResult | None = None
        self.second_factor_passed = not context.lobby
        """In the lobby, whoever holds the card answered the second factor; elsewhere staff act, and it is not asked."""

    def hint_keys(self) -> tuple[str, ...]:
        return ("hint.lang",) if self.context.lobby else self.HINT_KEYS

    def banner_lines(self) -> tuple[list[str], bool]:
        lines, danger = outcome_warnings(self.context, self.outcome)
        if self.outcome.status is LookupStatus.CONSENT_REQUIRED and not self.context.lobby:
            lines.append(self.context.t("visit.consent-required"))
        return lines, danger

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("visit.welcome-lobby" if self.context.lobby else "visit.title"), classes="headline")
        yield PatientCard(self.context, self.patient, id="patient")
        if self.insurance is not None and not self.context.lobby:
            lines = insurance_lines(self.context, self.insurance, checking=not self._insurance_answered)
            yield Vertical(*lines, id="insurance")
        with VerticalScroll(id="visit"):
            yield Words(t("visit.appointments"), classes="section-title")
            yield Vertical(*self._appointment_rows(), id="appointments")
            yield Vertical(id="walk-in")
            summary = self.outcome.summary
            if not self.context.lobby:
                title = self.context.t("summary.referrals")
                if summary is not None:
                    yield SectionList(self.context, [Section(title, referral_rows(summary.referrals))])
                else:
                    yield Words(title, classes="section-title")
                    yield Words(t("visit.referrals-unavailable"), classes="explain", id="referrals-unavailable")
        with Horizontal(classes="actions"):
            yield Button(t("walkin.button"), id="walk-in-start")
            yield Button(t("action.done"), id="done", variant="primary")

    def _appointment_rows(self) -> list[Widget]:
        t = self.context.t
        if self.appointments_refused:
            return [Words(t("visit.appointments-wrong-patient"), classes="explain -danger", id="appointments-refused")]
        if self.appointments is None:
            return [Words(t("visit.loading"), classes="explain")]
        if not self.appointments:
            return [Words(t("visit.none-today"), classes="explain")]
        rows: list[Widget] = []
        for position, appointment in enumerate(self.appointments):
            what = Words(self._row_text(appointment), classes="what")
            result = self._results.get(appointment.id)
            if result is None and appointment.status in _CHECKED_IN:
                result = "checked-in"
            action: Widget
            if result is not None:
                action = Words(t(f"checkin.{result}"), classes="checkin-result")
            else:
                action = Button(t("checkin.button"), id=f"checkin-{position}", classes="checkin", variant="success")
            # The action first, on its own row: the button a clerk presses is beside the appointment it checks in.
            rows.append(Horizontal(action, what, classes="appointment"))
        return rows

    def _row_text(self, appointment: Appointment) -> str:
        """Time, department and place; the description (which may name a diagnosis) never in the lobby, and at
        reception only as the server sent it (it leaves it out for a patient without consent)."""
        parts = [appointment.start.strftime("%H:%M"), appointment.department or "", appointment.facility_name or ""]
        if not self.context.lobby and appointment.description:
            parts.insert(1, appointment.description)
        return "  ·  ".join(p for p in parts if p)

    def on_mount(self) -> None:
        super().on_mount()
        if self.insurance is not None and not self.context.lobby and not self._insurance_asked:
            self._insurance_asked = True
            self.run_worker(self._check_insurance(self.insurance), name="insurance", group="insurance", exclusive=True)
        if self.appointments is None:
            self.run_worker(self._load_appointments(), name="appointments-today", group="visit", exclusive=True)
        else:
            self._focus_first_action()

    async def _check_insurance(self, card: Eligibility) -> None:
        """The insurance gateway's word on the card (the service falls back to the card's own dates)."""
        try:
            answer = await self._lookup.eligibility(card.card_number, card)
        except Exception as exc:  # the card's own dates stay on screen, said to come from the card
            log.error("insurance check failed: %s", type(exc).__name__)
            answer = card
        self.insurance, self._insurance_answered = answer, True
        box = self.query_one("#insurance", Vertical)
        await box.remove_children()
        await box.mount_all(insurance_lines(self.context, answer))

    async def _load_appointments(self) -> None:
        from lookup import WrongPatientError  # loaded with the service, which is running by now

        refused = False
        try:
            appointments = await self._lookup.appointments_today(self.patient.id)
        except WrongPatientError:
            appointments, refused = [], True
        except Exception as exc:  # the service should answer; if not, the patient reads "no appointment"
            log.error("appointments failed: %s", type(exc).__name__)
            appointments = []
        self.post_message(AppointmentsLoaded(self.patient.id, appointments, refused))

    @on(AppointmentsLoaded)
    async def _appointments_loaded(self, message: AppointmentsLoaded) -> None:
        if message.refused:
            self.appointments_refused = True
            t = self.context.t
            self.app.push_screen(NoticeDialog(t, t("wrong-patient.title"), t("wrong-patient.body"), alert=True))
        await self.show_appointments(message.appointments)

    async def _check_in(self, appointment_id: str) -> None:
        try:
            result = await self._lookup.check_in(appointment_id)
        except Exception as exc:  # the service should answer; if not, the patient reads that it failed
            log.error("check-in failed: %s", type(exc).__name__)
            self.post_message(CheckInFinished(appointment_id, "failed"))
            return
        self.post_message(CheckInFinished(appointment_id, result.status, result.ticket))

    @on(CheckInFinished)
    async def _checked_in(self, message: CheckInFinished) -> None:
        await self.show_check_in(message.appointment_id, message.status)
        if message.ticket is not None and self.context.lobby:
            booked = next((a for a in self.appointments or [] if a.id == message.appointment_id), None)
            self._show_lobby_ticket(message.ticket, (booked.department if booked else None) or "")
        elif message.ticket is not None:
            ticket = TicketCard(self.context.t, message.ticket, id="ticket")
            await self._show_in_walk_in([*ticket_flag(self.context, self.insurance), ticket])
            booked = next((a for a in self.appointments or [] if a.id == message.appointment_id), None)
            self._print_desk_ticket(message.ticket, (booked.department if booked else None) or "")

    # -- walk-in: no appointment today ---------------------------------------------------------------------------
    async def _show_in_walk_in(self, widgets: list[Widget]) -> None:
        box = self.query_one("#walk-in", Vertical)
        await box.remove_children()
        await box.mount_all(widgets)
        focusable = [w for w in box.query(Button) if not w.disabled]
        if focusable:
            focusable[0].focus()
        box.scroll_visible()

    @on(Button.Pressed, "#walk-in-start")
    def _walk_in_pressed(self) -> None:
        self.run_worker(self._load_departments(), name="departments", group="walk-in", exclusive=True)

    async def _load_departments(self) -> None:
        try:
            self.departments = await self._lookup.departments()
        except Exception as exc:  # the service should answer; if not, the patient is sent to the desk
            log.error("departments failed: %s", type(exc).__name__)
            self.departments = []
        await self._show_in_walk_in(self._walk_in_choices())

    def _walk_in_choices(self) -> list[Widget]:
        t = self.context.t
        if not self.departments:
            return [Words(t("walkin.no-departments"), classes="explain -danger", id="walk-in-unavailable")]
        widgets: list[Widget] = []
        if not self.context.lobby:
            widgets.append(Words(t("walkin.complaint"), classes="section-title"))
            buttons = [
                Button(t(f"complaint.{code}"), id=f"complaint-{code}", classes="complaint",
                       variant="primary" if code == self.complaint else "default")
                for code in CHIEF_COMPLAINTS
            ]  # fmt: skip
            widgets.append(Horizontal(*buttons, classes="choices"))
        widgets.append(Words(t("walkin.department"), classes="section-title"))
        departments = [
            Button(d.name, id=f"department-{position}", classes="department", variant="success")
            for position, d in enumerate(self.departments)
        ]
        widgets.append(Horizontal(*departments, classes="choices"))
        return widgets

    @on(Button.Pressed, ".complaint")
    async def _complaint_pressed(self, event: Button.Pressed) -> None:
        self.complaint = (event.button.id or "").removeprefix("complaint-") or None
        for button in self.query(".complaint").results(Button):
            button.variant = "primary" if button.id == event.button.id else "default"
        departments = list(self.query(".department").results(Button))
        if departments:
            departments[0].focus()

    @on(Button.Pressed, ".department")
    def _department_pressed(self, event: Button.Pressed) -> None:
        position = int((event.button.id or "-1").rsplit("-", 1)[-1])
        if 0 <= position < len(self.departments):
            code = self.departments[position].code

            def walk_in() -> None:
                for button in self.query(".department").results(Button):
                    button.disabled = True
                self.run_worker(
                    self._walk_in(code), name="walk-in", group="walk-in", exclusive=True, exit_on_error=False
                )

            self._on_their_behalf(walk_in)

    async def _walk_in(self, department: str) -> None:
        complaint = None if self.context.lobby else self.complaint
        try:
            result = await self._lookup.walk_in(self.patient.id, department, complaint, key=self._walk_in_key)
        except Exception as exc:  # the service should answer; if not, the patient is sent to the desk
            log.error("walk-in failed: %s", type(exc).__name__)
            result = WalkInResult(status="failed", key=self._walk_in_key)
        self.walk_in_result = result
        t = self.context.t
        if result.status == "checked-in" and result.ticket is not None and self.context.lobby:
            name = next((d.name for d in self.departments if d.code == department), department)
            self._show_lobby_ticket(result.ticket, name)
        elif result.status == "checked-in" and result.ticket is not None:
            flag = ticket_flag(self.context, self.insurance)
            await self._show_in_walk_in([*flag, TicketCard(t, result.ticket, id="ticket")])
            self._print_desk_ticket(
                result.ticket, next((d.name for d in self.departments if d.code == department), department)
            )
        elif result.status in ("checked-in", "queued"):
            await self._show_in_walk_in([Words(t("walkin.queued"), classes="checkin-result", id="walk-in-queued")])
        else:
            failed = Words(t("walkin.failed"), classes="explain -danger", id="walk-in-failed")
            await self._show_in_walk_in([failed, *self._walk_in_choices()])

    async def show_appointments(self, appointments: list[Appointment]) -> None:
        self.appointments = appointments
        await self._redraw_appointments()

    async def show_check_in(self, appointment_id: str, status: str) -> None:
        self._results[appointment_id] = status if status in ("checked-in", "queued") else "failed"
        await self._redraw_appointments()

    async def _redraw_appointments(self) -> None:
        box = self.query_one("#appointments", Vertical)
        await box.remove_children()
        await box.mount_all(self._appointment_rows())
        self._focus_first_action()

    def _focus_first_action(self) -> None:
        """The first check-in button takes the focus (Enter checks in); with no appointment today, the walk-in
        button; with every appointment checked in, the done button."""
        buttons = list(self.query(".checkin").results(Button))
        fallback = "#walk-in-start" if self.appointments == [] else "#done"
        target = buttons[0] if buttons else self.query_one(fallback, Button)
        target.focus()

    @on(Button.Pressed, ".checkin")
    def _check_in_pressed(self, event: Button.Pressed) -> None:
        position = int((event.button.id or "-1").rsplit("-", 1)[-1])
        if self.appointments is not None and 0 <= position < len(self.appointments):
            button = event.button
            appointment_id = self.appointments[position].id

            def check_in() -> None:
                button.disabled = True
                self.run_worker(self._check_in(appointment_id), name="check-in", group="checkin", exit_on_error=False)

            self._on_their_behalf(check_in)

    # -- the lobby: a second factor before acting, the ticket on a screen of its own -------------------------------
    def _on_their_behalf(self, act: Callable[[], None]) -> None:
        """Run `act` (a check-in, a walk-in) once the person answered the second factor; at once where it is not
        asked. Three wrong answers end the session with words that say nothing about the record."""
        if self.second_factor_passed:
            act()
            return
        t = self.context.t
        factor = second_factor(self.patient.demographics)
        lockouts, patient_id = self.context.lockouts, self.patient.id
        if factor is None or lockouts.locked(patient_id, time.monotonic()):
            self.app.push_screen(NoticeDialog(t, t("lobby.ask-reception.title"), t("second-factor.unavailable")))
            return

        def answered(agreed: bool | None) -> None:
            if agreed:
                self.second_factor_passed = True
                act()
            elif agreed is False:
                lockouts.failed(patient_id, time.monotonic())
                self.app.action_start_over()  # type: ignore[attr-defined]
                self.app.push_screen(NoticeDialog(t, t("lobby.ask-reception.title"), t("second-factor.ended")))

        self.app.push_screen(SecondFactorDialog(t, self.patient.demographics, factor), answered)

    def _print_desk_ticket(self, ticket: Ticket, department: str) -> None:
        """At reception, the ticket shown is also printed for the patient to carry when a printer is set."""
        settings = getattr(self.app, "settings", None)
        printer: str | None = getattr(settings, "printer", None)
        if printer is None:
            return
        font_dir: Path | None = getattr(settings, "print_font_dir", None)
        self.run_worker(
            self._print_ticket(ticket, department, printer, font_dir),
            name="print-desk-ticket",
            group="print",
            exclusive=True,
            exit_on_error=False,
        )

    async def _print_ticket(self, ticket: Ticket, department: str, printer: str, font_dir: Path | None) -> None:
        from kiosk.printing import PrintError

        t = self.context.t
        now = self.context.clock().astimezone()
        try:
            await asyncio.to_thread(print_ticket, ticket, department, printer, font_dir, now)
        except PrintError as exc:
            log.error("ticket not printed: %s", exc)
            self.app.notify(t("lobby-ticket.print-failed"), severity="error", markup=False)
            return
        self.app.notify(t("desk-ticket.printed"), markup=False)

    def _show_lobby_ticket(self, ticket: Ticket, department: str) -> None:
        settings = getattr(self.app, "settings", None)
        printer: str | None = getattr(settings, "printer", None)
        font_dir = getattr(settings, "print_font_dir", None)
        screen = LobbyTicketScreen(self.context, ticket, department, printer=printer, font_dir=font_dir)
        # In place of this screen: the person is done here, and nothing of it stays beneath the ticket.
        if self.app.screen is self:
            self.app.switch_screen(screen)
        else:
            self.app.push_screen(screen)

    @on(Button.Pressed, "#done")
    async def _done(self) -> None:
        await self.run_action("app.start_over")
