"""The kiosk app: a chain of typed messages between screens and named workers.

Screens post what the clerk or patient asked for (`ScanTextReceived`, `SearchRequested`, `CandidateChosen`...);
the app starts one named worker per lookup in the `lookup` group (exclusive: a new scan cancels the old lookup);
the worker posts `LookupProgressed` for every step and `LookupFinished` at the end, and the app shows the screen
the outcome calls for in this mode. The app holds no matching, parsing or protocol logic: it asks the scanners,
the lookup service and the cache it is handed (`kiosk.services`). No exception reaches the screen as a traceback: worker
failures become a notice in the clerk's words, and only the exception's type is logged (its text may hold data).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from time import monotonic
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, TextArea

from kiosk.activity import Clock, LookupActivity, system_clock
from kiosk.demo_hint import DemoHint
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.dialogs.link_identity import LinkIdentityDialog
from kiosk.dialogs.notice import NoticeDialog
from kiosk.dialogs.staff_pin import StaffPinDialog
from kiosk.dialogs.unverified_card import UnverifiedCardDialog
from kiosk.i18n import Translator
from kiosk.screens.admin import AdminScreen, KeyRows, kiosk_state
from kiosk.screens.base import KioskScreen
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.identity import IdentityConfirmed
from kiosk.screens.routing import AskBreakGlass, ShowScreen, next_step
from kiosk.screens.search import SearchScreen
from kiosk.screens.unknown import UnknownPatientScreen
from kiosk.screens.visit import VisitScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.services.ports import CameraHandle, KioskServices
from kiosk.settings import Mode, Settings
from kiosk.staff_lock import StaffLock
from kiosk.widgets.context import KioskContext
from kiosk.widgets.messages import (
    BreakGlassRequested,
    CameraStatusChanged,
    CandidateChosen,
    IdentityLinkRequested,
    LookupFailed,
    LookupFinished,
    LookupProgressed,
    ScanReceived,
    ScanTextReceived,
    ScanUnreadable,
    SearchRequested,
)
from kiosk.widgets.progress import LookupProgress
from kiosk.widgets.theme import HIGH_CONTRAST
from lookup import LookupOutcome, LookupSource, LookupStatus, ScanKind, ScanResult
from lookup.domain.model import Eligibility, Identifier
from lookup.domain.temporary import TEMPORARY_SYSTEM

if TYPE_CHECKING:
    from lookup import LookupStep, Progress
    from scanners.wedge import WedgeEvent

log = logging.getLogger(__name__)

WARM_UP_AFTER_S = 0.3
"""Delay before the lookup service is built in the background; a scan that comes sooner builds it itself."""
OUTBOX_EVERY_S = 15.0
"""How often queued audit events and check-ins are offered to the server (and right after each lookup)."""
NETWORK_EVERY_S = 5.0
"""How often the server is asked whether it answers, for the online/offline mark in the header."""


class KioskApp(App[None]):
    """Identify a patient by scan or search and show what their mode allows: summary, check-in or nothing."""

    CSS_PATH = "app.tcss"
    TITLE = "Kiosk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "search", "search", show=False),
        Binding("f6", "unknown_patient", "unidentified patient", show=False),
        Binding("f3", "toggle_language", "language", show=False, priority=True),
        Binding("f9", "admin", "admin", show=False),
        Binding("f10", "sign_out", "sign out", show=False, priority=True),
        Binding("ctrl+n", "start_over", "new patient", show=False, priority=True),
        # Textual's own quit binding, kept but routed through `action_quit`, which asks for the admin PIN when locked.
        Binding("ctrl+q", "quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        services: KioskServices,
        *,
        clock: Clock = system_clock,
        hint: DemoHint | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.t = Translator(settings.lang)
        self.context = KioskContext(self.t, clock, settings.mode)
        self.activity = LookupActivity(clock)
        self.last_input = monotonic()
        self._hint = hint
        self.staff_lock = StaffLock(self)
        self._camera: CameraHandle | None = None
        self._keep_candidates = False
        self._consent_patient: str | None = None
        self._glass_attempt: str | None = None
        """The patient a break-glass request was last sent for: a consent answer to it means the reason was refused."""
        self._linking: tuple[str, SearchScreen] | None = None
        """The temporary number being linked and the search opened for it: while that search (or what it opened) is
        on screen, the next patient a lookup finds is offered as the real identity."""
        self._card_insurance: Eligibility | None = None
        """The validity the last scanned insurance card states, shown (and checked) on the visit screen it opens."""
        self.faults: list[str] = []
        """Type names of unexpected faults the app recovered from (shown as a notice, never as a traceback)."""
        self._delivering = False
        self._generation = 0
        """Counts lookups and resets, so a late answer never lands on a screen that moved on (the lobby's reset)."""
        self.register_theme(HIGH_CONTRAST)
        self.theme = HIGH_CONTRAST.name

    # -- life cycle ---------------------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return WaitingScreen(self.context, hint=self._hint)

    def on_mount(self) -> None:
        self.set_class(self.context.lobby, "-lobby")
        self.set_interval(0.05, self._poll_wedge, name="wedge-poll")
        if self.context.lobby:
            idle = self.settings.idle_reset_seconds
            self.set_interval(min(1.0, idle / 4), self._reset_when_idle, name="idle-reset")
        self.set_interval(OUTBOX_EVERY_S, self._deliver_outbox, name="outbox-delivery")
        self.set_interval(NETWORK_EVERY_S, self._check_network, name="network-state")
        # Started once the first screen is painted, so it does not compete with start-up for the CPU.
        self.set_timer(WARM_UP_AFTER_S, self._start_warm_up, name="warm-up")
        self.staff_lock.start()
        if self.services.camera is not None:
            self.post_message(CameraStatusChanged("starting"))
            self.run_worker(self._start_camera, name="camera-start", group="camera", thread=True, exit_on_error=False)

    async def on_unmount(self) -> None:
        if self._camera is not None:
            self._camera.stop()
        service = self.services.lookup.built
        try:
            if service is not None:
                await service.aclose()
        except Exception as exc:  # closing must never turn an exit into a crash
            log.warning("closing the lookup service failed: %s", type(exc).__name__)

    def _deliver_outbox(self) -> None:
        """Send queued audit events and check-ins; one delivery at a time, never cancelled half-way."""
        if not self._delivering:
            self._delivering = True
            self.run_worker(self._flush_outbox(), name="outbox-delivery", group="outbox", exit_on_error=False)

    async def _flush_outbox(self) -> None:
        try:
            await self.services.lookup.get().flush_outbox()
        except Exception as exc:  # delivery is retried on the next round; the outbox keeps every message
            log.warning("outbox delivery failed: %s", type(exc).__name__)
        finally:
            self._delivering = False

    def _start_warm_up(self) -> None:
        self.run_worker(self._warm_up, name="warm-up", group="startup", thread=True, exit_on_error=False)

    def _check_network(self) -> None:
        self.run_worker(self._probe(), name="network-state", group="network", exclusive=True, exit_on_error=False)

    async def _probe(self) -> None:
        try:
            status = await self.services.lookup.get().probe()
        except Exception as exc:  # a probe that cannot run says offline; it never stops the kiosk
            log.warning("network probe failed: %s", type(exc).__name__)
            self.context.network.online = False
            return
        self.context.network.online = status.online

    def _warm_up(self) -> None:
        try:
            self.services.warm_up()
        except Exception as exc:  # the first lookup will meet the same fault and show it in words
            log.warning("warming up the lookup service failed: %s", type(exc).__name__)
        # The header says whether the server answers as soon as the service is built, before anyone is looked up.
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.call_from_thread(self._check_network)

    def _start_camera(self) -> None:
        starter = self.services.camera
        if starter is None:
            return
        try:
            self._camera = starter(self._camera_read, self._camera_changed)
        except Exception as exc:  # no camera is a state to show, not a reason to stop the kiosk
            log.warning("camera failed to start: %s", type(exc).__name__)
            self.post_message(CameraStatusChanged("failed"))

    def _camera_read(self, scan: ScanResult) -> None:
        self._post_scan(scan)

    def _post_scan(self, scan: ScanResult) -> None:
        """A code nobody can look up must not interrupt the lookup under way: it only earns a notice."""
        if scan.kind is ScanKind.UNKNOWN and not scan.identifiers:
            self.post_message(ScanUnreadable("scan.unknown"))
        else:
            self.post_message(ScanReceived(scan))

    def _camera_changed(self, status: str) -> None:
        self.post_message(CameraStatusChanged(status))

    def _handle_exception(self, error: Exception) -> None:
        """A fault in a screen ends in a notice and a fresh start, never in Textual's traceback: its locals would
        put patient data on screen. A fault that keeps coming back closes the app with one plain sentence."""
        log.error("unexpected fault in the app: %s", type(error).__name__)
        self.faults.append(type(error).__name__)
        if len(self.faults) > 3:
            self.exit(return_code=1, message=self.t("error.unexpected"))
            return
        self.call_later(self._recover_from_fault)

    def _recover_from_fault(self) -> None:
        self.action_start_over()
        self._notice("error.title", "error.unexpected")

    # -- input: wedge scanner anywhere, idle time ---------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent | events.Paste) and not event.is_forwarded:
            self.last_input = monotonic()
            if isinstance(event, events.Key) and self._wedge_takes(event):
                return
            if isinstance(event, events.Paste) and not self._typing_in_field():
                self.post_message(ScanTextReceived(event.text, "paste"))
                return
        await super().on_event(event)

    def _typing_in_field(self) -> bool:
        return isinstance(self.focused, Input | TextArea)

    def _wedge_takes(self, event: events.Key) -> bool:
        """Feed a key to the wedge detector unless a text field has it; True when the detector took the key."""
        dialogs = BreakGlassDialog | NoticeDialog | UnverifiedCardDialog | StaffPinDialog | LinkIdentityDialog
        if self._typing_in_field() or isinstance(self.screen, dialogs):
            return False
        if event.key == "enter":
            # Enter belongs to a burst only while keys are held back; before the first key nothing is.
            wedge = self.services.wedge.built
            if wedge is None or not wedge.pending:
                return False
            char = "\r"
        elif event.is_printable and event.character is not None:
            char = event.character
        else:
            return False
        # The key's own time tells a scanner from a person; the time it is handled keeps a burst the app is still
        # working through from looking quiet to the poll.
        self._wedge_runs(self.services.wedge.get().feed(char, event.time, heard=monotonic()))
        return True

    def _poll_wedge(self) -> None:
        wedge = self.services.wedge.built
        if wedge is not None and wedge.pending:
            self._wedge_runs(wedge.poll(monotonic()))

    def _wedge_runs(self, runs: Sequence[WedgeEvent]) -> None:
        for run in runs:
            if run.kind == "scan":
                self.post_message(ScanTextReceived(run.text, "wedge"))
            elif isinstance(self.screen, SearchScreen):
                self.screen.take_typed(run.text)
            elif run.text.strip():
                # A person typing on a screen without a field: they want to enter a number by hand.
                self.push_screen(SearchScreen(self.context, code=run.text.strip()))

    def _reset_when_idle(self) -> None:
        if monotonic() - self.last_input < self.settings.idle_reset_seconds:
            return
        waiting = self._waiting_screen()
        if len(self.screen_stack) > 1 or waiting.progress.has_class("-running") or waiting.has_notice:
            self.action_start_over()

    # -- actions ---------------------------------------------------------------------------------------------

    def action_search(self) -> None:
        if not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen(self.context))

    def action_unknown_patient(self) -> None:
        """The ER's registration of a person nobody can identify; never in the lobby or at reception, and only with a
        staff member signed in (the server records who registered them)."""
        if self.settings.mode is not Mode.ER or isinstance(self.screen, UnknownPatientScreen):
            return
        if self.staff_lock.blocks_lookup():
            return
        self.push_screen(UnknownPatientScreen(self.context))

    def action_admin(self) -> None:
        if self.staff_lock.locked:
            self.staff_lock.unlock("admin")
            return
        self.open_admin()

    def open_admin(self) -> None:
        if not isinstance(self.screen, AdminScreen):
            self.push_screen(AdminScreen(self.context, self._admin_rows, self._lookups_per_hour))

    def action_go_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_start_over(self) -> None:
        """Forget the patient: cancel lookups, clear every screen above the start, clear what it showed."""
        self._generation += 1
        self._linking = None
        self._card_insurance = None
        self.workers.cancel_group(self, "lookup")
        self.clear_notifications()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        wedge = self.services.wedge.built
        if wedge is not None:
            wedge.poll(monotonic() + 3600.0)  # decide and drop whatever keys were pending
        waiting = self._waiting_screen()
        waiting.set_notice("")
        waiting.progress.clear()
        self.staff_lock.ask()

    async def action_quit(self) -> None:
        """Quit (Ctrl+Q, or anything else that asks for it): only with the admin PIN where the kiosk is locked."""
        if self.staff_lock.locked:
            self.staff_lock.unlock("quit")
            return
        self.exit()

    def action_help_quit(self) -> None:
        # Textual tells whoever presses Ctrl+C which key quits (in English): in the kiosk's words, and not where
        # quitting is locked.
        if not self.staff_lock.locked:
            self.notify(self.t("app.quit-hint", key="Ctrl+Q"), title=self.t("app.quit-title"), markup=False)

    def action_sign_out(self) -> None:
        self.staff_lock.sign_out()

    @on(StaffPinDialog.Submitted)
    def _staff_pin(self, message: StaffPinDialog.Submitted) -> None:
        self.staff_lock.submitted(message)

    @property
    def demo_hint(self) -> DemoHint | None:
        return self._hint

    async def action_toggle_language(self) -> None:
        self.t.toggle()
        if isinstance(self.screen, KioskScreen):
            await self.screen.relabel()

    # -- scans and searches -------------------------------------------------------------------------------------

    @on(ScanTextReceived)
    def _read_scan(self, message: ScanTextReceived) -> None:
        try:
            scan = self.services.reader.get().read(message.text, decoder=message.decoder)
        except ValueError as exc:
            log.info("unreadable scan: %s", type(exc).__name__)
            self.post_message(ScanUnreadable("scan.unreadable"))
            return
        self._post_scan(scan)

    @on(ScanUnreadable)
    def _scan_unreadable(self, message: ScanUnreadable) -> None:
        self._waiting_screen().set_notice(self.t(message.reason))
        self.notify(self.t(message.reason), severity="warning", timeout=4, markup=False)

    @on(ScanReceived)
    def _scan_received(self, message: ScanReceived) -> None:
        if message.scan.warnings:
            # The scanners' sentences are English (for `kiosk scan`); the clerk reads one warning in their language.
            log.info("scan with %d warnings", len(message.scan.warnings))
            self.notify(self.t("scan.warning"), severity="warning", timeout=6, markup=False)
        self._keep_candidates = False
        scan = message.scan
        if scan.unverified:
            # A card whose signature does not hold names whoever made it: nobody is looked up unread.
            if self.context.lobby:
                self._notice("lobby.ask-reception.title", "card.lobby")
            else:
                dialog = UnverifiedCardDialog(self.t, scan.signature.status.value, scan.signature.reason)
                self.push_screen(dialog, partial(self._look_up_scan, scan))
            return
        self._look_up_scan(scan)

    def _look_up_scan(self, scan: ScanResult, go: bool | None = True) -> None:
        if not go:
            return
        self._card_insurance = scan.insurance
        self._start_lookup("lookup-scan", lambda progress: self.services.lookup.get().by_scan(scan, progress=progress))

    @on(SearchRequested)
    def _search_requested(self, message: SearchRequested) -> None:
        self._keep_candidates = False
        self._card_insurance = None
        query = message.query
        self._start_lookup(
            "lookup-search", lambda progress: self.services.lookup.get().by_demographics(query, progress=progress)
        )

    @on(CandidateChosen)
    def _candidate_chosen(self, message: CandidateChosen) -> None:
        self._keep_candidates = True
        chosen = message.patient_id
        self._start_lookup(
            "open-patient", lambda progress: self.services.lookup.get().open_patient(chosen, progress=progress)
        )

    @on(IdentityConfirmed)
    def _identity_confirmed(self, message: IdentityConfirmed) -> None:
        self._keep_candidates = False
        chosen = message.patient_id
        self._start_lookup(
            "open-patient",
            lambda progress: self.services.lookup.get().open_patient(
                chosen, confirmed_identity=True, progress=progress
            ),
        )

    @on(BreakGlassRequested)
    def _break_glass(self, message: BreakGlassRequested) -> None:
        self._keep_candidates = True
        patient, reason = message.patient_id, message.reason
        self._glass_attempt = patient
        self._start_lookup(
            "break-glass", lambda progress: self.services.lookup.get().break_glass(patient, reason, progress=progress)
        )

    # -- the lookup worker --------------------------------------------------------------------------------------

    def _start_lookup(self, name: str, call: Callable[[Progress], Awaitable[LookupOutcome]]) -> None:
        if self.staff_lock.blocks_lookup():
            return
        self._generation += 1
        self._screen_progress().begin()
        self.run_worker(
            self._lookup(call, self._generation), name=name, group="lookup", exclusive=True, exit_on_error=False
        )

    async def _lookup(self, call: Callable[[Progress], Awaitable[LookupOutcome]], generation: int) -> None:
        try:
            outcome = await call(self._post_step)
        except Exception as exc:  # the service should not raise; if it does the clerk reads a notice, not a trace
            log.error("lookup failed: %s", type(exc).__name__)
            self.post_message(LookupFailed("error.unexpected", generation))
            return
        self.post_message(LookupFinished(outcome, generation))

    def _post_step(self, step: LookupStep) -> None:
        self.post_message(LookupProgressed(step))

    @on(LookupProgressed)
    def _progressed(self, message: LookupProgressed) -> None:
        self._screen_progress().advance(message.step)

    @on(LookupFailed)
    def _failed(self, message: LookupFailed) -> None:
        if message.generation not in (0, self._generation):
            return
        self._screen_progress().clear()
        self._notice("error.title", message.key)

    @on(LookupFinished)
    async def _finished(self, message: LookupFinished) -> None:
        if message.generation != self._generation:
            return
        self._screen_progress().clear()
        # An answer of the server says it is up; one from the cache, or none, says it is not (the header shows it).
        outcome = message.outcome
        answered = outcome.source is LookupSource.NETWORK and outcome.status is not LookupStatus.OFFLINE
        self.context.network.online = answered
        if self.staff_lock.missing:
            return  # the person was signed out while it ran: nothing is shown to whoever stands there now
        self.activity.record()
        self._deliver_outbox()
        if self._linking is not None and self._linking[1] not in self.screen_stack:
            self._linking = None  # the nurse left the search opened for linking: lookups are lookups again
        if self._linking is not None and self._offer_link(self._linking[0], outcome):
            return
        step = next_step(self.context, message.outcome, self.services.lookup.get())
        attempted, self._glass_attempt = self._glass_attempt, None
        if isinstance(step, ShowScreen) and isinstance(step.screen, VisitScreen) and step.screen.insurance is None:
            step.screen.insurance = self._card_insurance
        if isinstance(step, ShowScreen):
            self._show(step.screen)
        elif isinstance(step, AskBreakGlass):
            self._consent_patient = step.patient_id
            # Asked again after a break-glass attempt: the server refused the reason, and says why.
            refusal = message.outcome.message if attempted == step.patient_id else None
            dialog = BreakGlassDialog(self.t, refusal=refusal, patient=step.patient)
            self.push_screen(dialog, self._break_glass_reason)
        else:
            self._notice(step.title_key, step.body_key, detail=step.detail, alert=step.alert)

    # -- linking a temporary identity to the real patient --------------------------------------------------------

    @on(IdentityLinkRequested)
    def _identity_link_requested(self, message: IdentityLinkRequested) -> None:
        if message.unlink:
            dialog = LinkIdentityDialog(self.t, message.number, message.patient, action="unlink")
            self.push_screen(dialog, partial(self._confirmed_unlink, message.number))
            return
        # The real person is found the normal way (scan, typed number, or a search with candidates to choose from).
        search = SearchScreen(self.context)
        self._linking = (message.number, search)
        self.push_screen(search)
        self.notify(self.t("link.scan-real"), title=self.t("link.button"), timeout=8, markup=False)

    def _offer_link(self, number: str, outcome: LookupOutcome) -> bool:
        """When the lookup that finished found one patient while linking: ask to confirm the link (True)."""
        found = outcome.patient or (outcome.summary.patient if outcome.summary else None)
        if outcome.status not in (LookupStatus.FOUND, LookupStatus.CONSENT_REQUIRED) or found is None:
            return False  # candidates, not found, offline: shown as usual, and the next lookup is offered again
        self._linking = None
        if any(i.system == TEMPORARY_SYSTEM for i in found.identifiers):
            self._notice("link.failed.title", "link.not-real", alert=True)
            return True
        self.push_screen(LinkIdentityDialog(self.t, number, found), partial(self._confirmed_link, number, found.id))
        return True

    def _confirmed_link(self, number: str, patient_id: str, go: bool | None) -> None:
        if go:
            call = partial(self._identity_operation, number, patient_id)
            self.run_worker(call(), name="identity-link", group="identity", exclusive=True, exit_on_error=False)

    def _confirmed_unlink(self, number: str, go: bool | None) -> None:
        if go:
            call = partial(self._identity_operation, number, None)
            self.run_worker(call(), name="identity-unlink", group="identity", exclusive=True, exit_on_error=False)

    async def _identity_operation(self, number: str, patient_id: str | None) -> None:
        """Link (to `patient_id`) or undo the link, then open the temporary number again: the real patient, reached
        through it, after a link; the temporary identity after an undo."""
        service = self.services.lookup.get()
        try:
            result = await (service.link(number, patient_id) if patient_id else service.unlink(number))
        except Exception as exc:  # the service answers with outcomes; anything else is a notice, not a trace
            log.error("identity link failed: %s", type(exc).__name__)
            result = None
        if result is not None and result.status == "queued":
            # Kept in the outbox for when the server answers: nothing changed yet, so nothing is opened again.
            self._notice("link.queued.title", "link.queued.body")
            return
        if result is None or result.status not in ("linked", "unlinked"):
            log.info("identity link refused: %s", result.status if result else "fault")
            self._notice("link.failed.title", "link.failed.body", alert=True)
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        temporary = Identifier(system=TEMPORARY_SYSTEM, value=number)
        self._start_lookup(
            "lookup-temporary", lambda progress: self.services.lookup.get().by_identifier(temporary, progress=progress)
        )

    def _break_glass_reason(self, reason: str | None) -> None:
        if reason and self._consent_patient is not None:
            self.post_message(BreakGlassRequested(self._consent_patient, reason))
        self._consent_patient = None

    def _show(self, screen: KioskScreen) -> None:
        """Replace the previous result (keeping the candidate list when the clerk chose from it) with `screen`."""
        keep = (SearchScreen, CandidatesScreen) if self._keep_candidates else (SearchScreen,)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, keep):
            self.pop_screen()
        self._waiting_screen().set_notice("")
        self.push_screen(screen)

    def _notice(self, title_key: str, body_key: str, *, detail: str | None = None, alert: bool = False) -> None:
        self.push_screen(NoticeDialog(self.t, self.t(title_key), self.t(body_key), detail=detail, alert=alert))

    # -- camera and admin ---------------------------------------------------------------------------------------

    @on(CameraStatusChanged)
    def _camera_status(self, message: CameraStatusChanged) -> None:
        self._waiting_screen().set_camera(message.status)

    async def _admin_rows(self) -> KeyRows:
        return await kiosk_state(self.settings, self.services, self.t, sum(self._lookups_per_hour()))

    def _lookups_per_hour(self) -> Sequence[int]:
        """The admin chart's lookups per hour: this kiosk's from the activity log when it keeps one (they survive a
        restart and agree with the activity screen), else those the app counted since it started."""
        service, cache = self.services.lookup.built, self.services.cache.built
        if service is not None and service.writer.activity is not None and cache is not None:
            from kiosk.activity_log import lookups_per_hour

            try:
                return lookups_per_hour(cache.activity, service.writer.kiosk_name, self.context.clock())
            except Exception as exc:  # the chart falls back to the app's own count; the screen never breaks
                log.warning("the activity log could not be counted: %s", type(exc).__name__)
        return self.activity.per_hour()

    # -- helpers ------------------------------------------------------------------------------------------------

    def _waiting_screen(self) -> WaitingScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, WaitingScreen)
        return screen

    def _screen_progress(self) -> LookupProgress:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, KioskScreen):
                return screen.progress
        return self._waiting_screen().progress
