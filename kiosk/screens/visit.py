"""Reception and lobby: who arrived, today's appointments with a check-in button each, and (reception) referrals."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button

from kiosk.dialogs.notice import NoticeDialog
from kiosk.screens.base import KioskScreen
from kiosk.screens.summary import outcome_warnings
from kiosk.widgets.context import KioskContext
from kiosk.widgets.messages import AppointmentsLoaded, CheckInFinished
from kiosk.widgets.patient import PatientCard
from kiosk.widgets.sections import Section, SectionList, referral_rows
from kiosk.widgets.words import Words
from lookup import Appointment, LookupOutcome, LookupStatus, PatientRecord

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
    ) -> None:
        super().__init__(context)
        self.outcome = outcome
        self.patient = patient
        self.appointments = appointments
        """Today's appointments; None until loaded (given up front, they are not asked of the server)."""
        self._lookup = lookup
        self._results: dict[str, str] = {}
        self.appointments_refused = False
        """The server answered with another person's appointments: none are shown, and the screen says so."""

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
        with VerticalScroll(id="visit"):
            yield Words(t("visit.appointments"), classes="section-title")
            yield Vertical(*self._appointment_rows(), id="appointments")
            summary = self.outcome.summary
            if not self.context.lobby:
                title = self.context.t("summary.referrals")
                if summary is not None:
                    yield SectionList(self.context, [Section(title, referral_rows(summary.referrals))])
                else:
                    yield Words(title, classes="section-title")
                    yield Words(t("visit.referrals-unavailable"), classes="explain", id="referrals-unavailable")
        with Horizontal(classes="actions"):
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
            when = appointment.start.strftime("%H:%M")
            place = appointment.facility_name or ""
            what = Words(f"{when}  {appointment.description}  {place}", classes="what")
            result = self._results.get(appointment.id)
            if result is None and appointment.status in _CHECKED_IN:
                result = "checked-in"
            action: Widget
            if result is not None:
                action = Words(t(f"checkin.{result}"), classes="checkin-result")
            else:
                action = Button(t("checkin.button"), id=f"checkin-{position}", classes="checkin", variant="success")
            rows.append(Horizontal(what, action, classes="appointment"))
        return rows

    def on_mount(self) -> None:
        super().on_mount()
        if self.appointments is None:
            self.run_worker(self._load_appointments(), name="appointments-today", group="visit", exclusive=True)

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
        self.post_message(CheckInFinished(appointment_id, result.status))

    @on(CheckInFinished)
    async def _checked_in(self, message: CheckInFinished) -> None:
        await self.show_check_in(message.appointment_id, message.status)

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

    @on(Button.Pressed, ".checkin")
    def _check_in_pressed(self, event: Button.Pressed) -> None:
        position = int((event.button.id or "-1").rsplit("-", 1)[-1])
        if self.appointments is not None and 0 <= position < len(self.appointments):
            event.button.disabled = True
            appointment_id = self.appointments[position].id
            self.run_worker(self._check_in(appointment_id), name="check-in", group="checkin", exit_on_error=False)

    @on(Button.Pressed, "#done")
    async def _done(self) -> None:
        await self.run_action("app.start_over")
