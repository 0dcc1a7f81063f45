"""Who may use the kiosk: the staff member signed in at an ER or reception kiosk, and the PIN that unlocks the admin
screen and quitting where nobody is signed in (always in the lobby).

ER and reception (unless `staff_sign_in` is off): no lookup starts before a staff member has signed in (the sign-in
dialog stays up until one has), every lookup is then audited with the person, F10 signs them out and so does
`staff_idle_sign_out_minutes` without input; signing out forgets the patient on screen. A person the server stops
accepting (their PIN was changed while they were signed in offline) is signed out as soon as the kiosk notices.

Admin (F9) and quit (Ctrl+Q, and any other way to the `quit` action) need the admin PIN whenever nobody is signed in
(always in the lobby, whose client cannot sign staff in on the server): checked here against `admin_pin_hash`, five
wrong PINs in a row lock it for five minutes (doubling). Without a configured hash they stay locked.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING, Literal

from kiosk.dialogs.notice import NoticeDialog
from kiosk.dialogs.staff_pin import StaffPinDialog
from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import format_age
from lookup import PinAttempts, SignInResult, SignInStatus, pin_matches

if TYPE_CHECKING:
    from kiosk.app import KioskApp

log = logging.getLogger(__name__)

ADMIN = "admin"
"""The one name the admin PIN's wrong tries are counted under."""
CHECK_EVERY_S = 1.0


class StaffLock:
    """The app's staff sign-in and admin PIN: which actions wait for them, and the dialogs that ask."""

    def __init__(self, app: KioskApp) -> None:
        self._app = app
        self._admin_attempts = PinAttempts()

    @property
    def required(self) -> bool:
        """Whether this kiosk asks a staff member to sign in (ER and reception, unless switched off)."""
        return self._app.settings.staff_sign_in and not self._app.context.lobby

    @property
    def signed_in(self) -> bool:
        service = self._app.services.lookup.built
        return service is not None and service.staff is not None

    @property
    def missing(self) -> bool:
        """A sign-in is needed and nobody is signed in."""
        return self.required and not self.signed_in

    @property
    def locked(self) -> bool:
        """Whether admin and quit need the admin PIN now: in the lobby, or with nobody signed in."""
        return self._app.context.lobby or self.missing

    def start(self) -> None:
        """From the app's mount: show who is signed in (a test may have signed in before), or ask."""
        if not self.required:
            return
        self._app.set_interval(CHECK_EVERY_S, self._check, name="staff-check")
        self.show()
        self.ask()

    # -- signing in and out -------------------------------------------------------------------------------------

    def ask(self) -> None:
        """Put the sign-in dialog up, unless nobody needs to sign in or it is up already."""
        app = self._app
        if not self.missing or any(isinstance(s, StaffPinDialog) and s.signs_in for s in app.screen_stack):
            return
        hint = app.demo_hint
        words = app.t("demo.staff", staff=hint.staff_id, pin=hint.staff_pin) if hint and hint.staff_pin else None
        app.push_screen(StaffPinDialog(app.t, "sign-in", staff_id=app.settings.staff_id or "", hint=words))

    def blocks_lookup(self) -> bool:
        """True (and the sign-in is asked for) when a lookup must wait for a staff member."""
        if not self.missing:
            return False
        self.ask()
        self._app.notify(self._app.t("staff.sign-in-first"), severity="warning", timeout=4, markup=False)
        return True

    def submitted(self, message: StaffPinDialog.Submitted) -> None:
        if message.dialog.signs_in:
            check = self._sign_in(message.dialog, message.staff_id, message.pin)
        else:
            check = self._unlock(message.dialog, message.pin)
        self._app.run_worker(check, name="staff-pin", group="staff", exclusive=True, exit_on_error=False)

    async def _sign_in(self, dialog: StaffPinDialog, staff_id: str, pin: str) -> None:
        app = self._app
        try:
            result = await app.services.lookup.get().sign_in(staff_id, pin)
        except Exception as exc:  # the service answers every sign-in; if it raised, the clerk reads a sentence
            log.error("staff sign-in failed: %s", type(exc).__name__)
            dialog.refuse(app.t("error.unexpected"))
            return
        if result.status is not SignInStatus.SIGNED_IN or result.staff is None:
            dialog.refuse(self._refusal(result))
            return
        dialog.dismiss(None)
        self.show()
        key = "staff.signed-in-offline" if result.staff.verified == "offline" else "staff.signed-in"
        app.notify(app.t(key, staff=result.staff.staff_id), timeout=4, markup=False)

    def _refusal(self, result: SignInResult) -> str:
        t = self._app.t
        wait = format_age(t, result.retry_after_s or 0.0)
        if result.status is SignInStatus.WRONG_PIN:
            left = f" {t('staff.tries-left', n=result.tries_left)}" if result.tries_left is not None else ""
            return t("staff.wrong-pin") + left
        if result.status is SignInStatus.LOCKED:
            return t("staff.locked", wait=wait)
        if result.status is SignInStatus.RATE_LIMITED:
            return t("staff.rate-limited", wait=wait)
        if result.status is SignInStatus.OFFLINE:
            return t("staff.offline")
        return t("staff.unavailable", detail=result.message)

    def sign_out(self, notice_key: str = "staff.signed-out") -> None:
        """Forget the patient and the person: the next one signs in again."""
        if not self.required or not self.signed_in:
            return
        self._app.action_start_over()
        self._app.run_worker(self._sign_out(notice_key), name="staff-sign-out", group="staff", exit_on_error=False)

    async def _sign_out(self, notice_key: str) -> None:
        app = self._app
        service = app.services.lookup.built
        try:
            if service is not None:
                await service.sign_out()
        except Exception as exc:  # whatever broke, nobody stays signed in on screen
            log.warning("staff sign-out failed: %s", type(exc).__name__)
        self.show()
        self.ask()
        minutes = f"{app.settings.staff_idle_sign_out_minutes:g}"
        app.notify(app.t(notice_key, n=minutes), timeout=6, markup=False)

    def show(self) -> None:
        """Bring every screen's title in line with who is signed in."""
        app = self._app
        service = app.services.lookup.built
        staff = service.staff if service is not None else None
        app.context.staff.staff_id = staff.staff_id if staff is not None else None
        app.context.staff.offline = staff is not None and staff.verified == "offline"
        for screen in app.screen_stack:
            if isinstance(screen, KioskScreen):
                screen.show_staff()

    def _check(self) -> None:
        """Idle sign-out, and a person the service signed out (the server refused their PIN) leaves the screen."""
        app = self._app
        if app.context.staff.staff_id is not None and not self.signed_in:
            app.action_start_over()
            self.show()
            self.ask()
            return
        idle_s = app.settings.staff_idle_sign_out_minutes * 60
        if self.signed_in and monotonic() - app.last_input >= idle_s:
            self.sign_out("staff.idle-signed-out")

    # -- the admin PIN ------------------------------------------------------------------------------------------

    def unlock(self, purpose: Literal["admin", "quit"]) -> None:
        """Ask for the admin PIN before `purpose`; without a configured one, say that it stays locked."""
        app = self._app
        if app.settings.admin_pin_hash is None:
            app.push_screen(NoticeDialog(app.t, app.t("unlock.locked-title"), app.t("unlock.not-configured")))
            return
        if isinstance(app.screen, StaffPinDialog) and app.screen.purpose == purpose:
            return
        hint = app.demo_hint
        words = app.t("demo.admin-pin", pin=hint.admin_pin) if hint is not None and hint.admin_pin else None
        app.push_screen(StaffPinDialog(app.t, purpose, hint=words))

    async def _unlock(self, dialog: StaffPinDialog, pin: str) -> None:
        app = self._app
        stored = app.settings.admin_pin_hash
        wait = self._admin_attempts.locked_for(ADMIN)
        if wait > 0 or stored is None:
            dialog.refuse(app.t("staff.locked", wait=format_age(app.t, wait)))
            return
        if not await asyncio.to_thread(pin_matches, pin, stored):
            lock = self._admin_attempts.failed(ADMIN)
            dialog.refuse(app.t("staff.locked", wait=format_age(app.t, lock)) if lock else app.t("unlock.wrong"))
            return
        self._admin_attempts.succeeded(ADMIN)
        dialog.dismiss(None)
        if dialog.purpose == "quit":
            app.exit()
        else:
            app.open_admin()
