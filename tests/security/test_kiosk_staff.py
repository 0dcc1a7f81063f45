"""No one else at the screen: the ER and reception kiosks look nobody up before a staff member signs in, every lookup
and every break-glass is then audited with the person (by the server and in the kiosk's own trail), a PIN seen
online on this kiosk signs the same person in while the server is down, wrong PINs lock the id, and in the lobby the
admin screen and quitting need the admin PIN. The real app through its pilot, against a real sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.dialogs.notice import NoticeDialog
from kiosk.screens.admin import AdminScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.services.trust import TrustFile
from kiosk.settings import Mode, Settings
from kiosk.widgets.messages import ScanTextReceived
from kiosk.wiring import build_app, close_services, lookup_service
from lookup import IdentifierSystems, LookupSource
from sandbox.server.auth import hash_pin
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox, settings_for, wait_until, wedge_scan, with_records
from tests.security.policy_world import STAFF_PINS, Json, agent_ids, server_events

if TYPE_CHECKING:
    from kiosk.services.cache import KioskCache

POPULATION = 300
SIZE = (120, 40)
ADMIN_PIN = "271828"
CLIENT_TRAIL = "client-trail"
STAFF_EXTENSION = "urn:kiosk:staff"
VERIFIED_EXTENSION = "urn:kiosk:staff-verified"
SIGN_IN_FIRST = "đăng nhập trước khi tra cứu"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def _trail(events: list[Json]) -> list[Json]:
    """The kiosk's own events (delivered from its outbox), as the server keeps them."""
    return [e for e in events if any(t.get("code") == CLIENT_TRAIL for t in (e.get("meta") or {}).get("tag") or [])]


def _server_written(events: list[Json]) -> list[Json]:
    return [e for e in events if e not in _trail(events)]


def _claimed_staff(event: Json) -> dict[str, str]:
    """The staff member a kiosk's event says acted, and how their PIN was checked (its requestor's extensions)."""
    found: dict[str, str] = {}
    for agent in event.get("agent") or []:
        for extension in agent.get("extension") or []:
            if extension.get("url") == STAFF_EXTENSION:
                found["staff"] = extension["valueString"]
            elif extension.get("url") == VERIFIED_EXTENSION:
                found["verified"] = extension["valueCode"]
    return found


def _text(widget: Static) -> str:
    return str(widget.content)


def _asking_pin(app: KioskApp) -> bool:
    """Whether the screen on top is a dialog asking for a PIN (a staff sign-in, or the admin PIN)."""
    return isinstance(app.screen, ModalScreen) and bool(app.screen.query("#pin"))


def _dialog(app: KioskApp) -> ModalScreen[Any]:
    screen = app.screen
    assert isinstance(screen, ModalScreen) and _asking_pin(app), f"no PIN asked for: {type(screen).__name__} on top"
    return screen


async def _enter(pilot: Any, app: KioskApp, pin: str, staff_id: str | None = None) -> str:
    """Type a PIN (and staff id) into the dialog on screen as a person would; what the dialog then says, or "" when
    it closed (accepted)."""
    try:
        await wait_until(pilot, lambda: _asking_pin(app) and not _busy(app))
    except AssertionError as exc:
        raise AssertionError(f"the kiosk does not ask for a staff id and PIN ({exc})") from None
    dialog = _dialog(app)
    if staff_id is not None:
        dialog.query_one("#staff-id", Input).value = staff_id
    dialog.query_one("#pin", Input).focus()
    await pilot.press(*pin, "enter")
    await wait_until(pilot, lambda: app.screen is not dialog or not _busy(app), within=15)
    if app.screen is not dialog:
        return ""
    return _text(dialog.query_one("#pin-message", Static))


def _busy(app: KioskApp) -> bool:
    return _asking_pin(app) and app.screen.query_one("#pin", Input).disabled


def _title(app: KioskApp) -> str:
    return _text(app.screen_stack[0].query_one("#title-bar", Static))


def _shown(app: KioskApp, kind: type[object]) -> bool:
    return any(isinstance(s, kind) for s in app.screen_stack)


def _notified(app: KioskApp, words: str) -> Callable[[], bool]:
    return lambda: any(words in n.message for n in app._notifications)


async def _until_exited(app: KioskApp, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while app.return_code is None:
        assert time.monotonic() < deadline, "the app did not quit"
        await asyncio.sleep(0.01)


# -- the lobby: admin and quit behind the admin PIN ---------------------------------------------------------------


async def test_lobby_admin_and_quit_need_the_admin_pin(
    server: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_ADMIN_PIN_HASH", hash_pin(ADMIN_PIN))
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await pilot.pause()
        assert not _shown(app, AdminScreen), "F9 opened the admin screen (server address, file paths) to anyone"
        await wait_until(pilot, lambda: _asking_pin(app))
        assert getattr(app.screen, "purpose", None) == "admin"
        assert await _enter(pilot, app, "000000") == "Sai mã PIN."
        assert not _shown(app, AdminScreen), "a wrong PIN opened the admin screen"
        assert await _enter(pilot, app, ADMIN_PIN) == ""
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.press("escape")

        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code is None, "Ctrl+Q quit the lobby kiosk without a PIN"
        await wait_until(pilot, lambda: _asking_pin(app))
        assert getattr(app.screen, "purpose", None) == "quit"
        assert await _enter(pilot, app, "999999") == "Sai mã PIN."
        assert app.return_code is None, "a wrong PIN quit the kiosk"
        await pilot.press("escape")
        await pilot.press("ctrl+c")  # Textual's "press Ctrl+Q to quit" hint is not given to whoever stands there
        await pilot.pause()
        assert app.return_code is None and not _notified(app, "quit")()

        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: _asking_pin(app))
        await pilot.press(*ADMIN_PIN, "enter")
        await _until_exited(app)
    assert app.return_code == 0


async def test_lobby_without_an_admin_pin_stays_locked(server: RunningSandbox, tmp_path: Path) -> None:
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        for key in ("ctrl+q", "f9"):
            await pilot.press(key)
            await pilot.pause()
            assert app.return_code is None and not _shown(app, AdminScreen), f"{key} worked without a PIN"
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog))
            assert "admin_pin_hash" in _text(app.screen.query_one("#notice-body", Static))
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(app.screen_stack) == 1)


# -- ER: sign in first, then every lookup and break-glass names the person ----------------------------------------


async def test_er_looks_nobody_up_before_sign_in_then_audits_the_person(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[0]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        # A scanned card and a pasted one, before anyone signed in: neither reaches the server.
        wedge_scan(app, cccd_qr_text(person))
        app.post_message(ScanTextReceived(cccd_qr_text(person), "paste"))
        await wait_until(pilot, lambda: _notified(app, SIGN_IN_FIRST)() or _shown(app, SummaryScreen))
        assert not _shown(app, SummaryScreen), "a patient was looked up and shown before anyone signed in"
        assert server_events(server, person.patient_id) == [], "the server was asked before anyone signed in"
        built = app.services.lookup.built
        assert built is None or built.writer.queued == 0, "an audit event was written for a lookup that never ran"
        await pilot.press("f9")  # nobody signed in and no admin PIN configured: the admin screen stays shut
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog))
        assert not _shown(app, AdminScreen)
        await pilot.press("enter")

        assert await _enter(pilot, app, STAFF_PINS["nurse-lan"], staff_id="nurse-lan") == ""
        assert "nurse-lan" in _title(app)
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))

        def delivered() -> bool:
            return any("nurse-lan" in agent_ids(e) for e in _trail(server_events(server, person.patient_id)))

        await wait_until(pilot, delivered, within=20)
    events = server_events(server, person.patient_id)
    summaries = [e for e in _server_written(events) if "summary" in e.get("outcomeDesc", "")]
    assert summaries and all({"demo-er", "nurse-lan"} <= agent_ids(e) for e in summaries)
    trail = _trail(events)
    assert trail and all({"demo-er", "nurse-lan"} <= agent_ids(e) for e in trail)
    assert all(_claimed_staff(e) == {"staff": "nurse-lan", "verified": "server"} for e in trail)


async def test_break_glass_is_audited_with_the_person(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION, consented=False)[0]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        assert await _enter(pilot, app, STAFF_PINS["doctor-minh"], staff_id="doctor-minh") == ""
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog))
        await pilot.press(*"benh nhan hon me", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert isinstance(app.screen, SummaryScreen) and app.screen.outcome.break_glass

        def glass_trail() -> list[Json]:
            return [e for e in _trail(server_events(server, person.patient_id)) if e["outcomeDesc"].startswith("break")]

        await wait_until(pilot, lambda: bool(glass_trail()), within=20)
    glass = [e for e in _server_written(server_events(server, person.patient_id)) if e.get("purposeOfEvent")]
    assert glass and all({"demo-er", "doctor-minh"} <= agent_ids(e) for e in glass)
    assert all(e["purposeOfEvent"][0]["coding"][0]["code"] == "BTG" for e in glass)
    trail = glass_trail()
    assert all(
        {"demo-er", "doctor-minh"} <= agent_ids(e) and _claimed_staff(e)["staff"] == "doctor-minh" for e in trail
    )


# -- offline sign-in and the lockout ------------------------------------------------------------------------------


async def test_offline_sign_in_with_a_pin_seen_online_and_its_lookups_audited(tmp_path: Path) -> None:
    person = with_records(POPULATION)[1]
    with sandbox(POPULATION) as running:
        settings = settings_for(running, Mode.ER, tmp_path / "cache")
        app = build_app(settings)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await _sign_in_online_then_offline(pilot, app, running, person.patient_id, cccd_qr_text(person))
            cache = app.services.cache.get()
            assert cache is not None
            kept = cache.records.get("staff/nurse-lan")
            assert kept is not None and b"scrypt$" in kept.payload, "the PIN's hash is kept in the encrypted cache"
            assert STAFF_PINS["nurse-lan"].encode() not in kept.payload, "never the PIN itself"
            # The server is back: the offline lookup's event, queued in the outbox, reaches it naming the nurse.
            with start_sandbox(running.config, port=running.port) as again:
                found = await _delivered_claims(again, settings, cache, person.patient_id)
        finally:
            close_services(app.services)
    assert {"staff": "nurse-lan", "verified": "offline"} in found
    assert {"staff": "nurse-lan", "verified": "server"} in found


async def _sign_in_online_then_offline(
    pilot: Any, app: KioskApp, running: RunningSandbox, patient_id: str, card: str
) -> None:
    assert await _enter(pilot, app, STAFF_PINS["nurse-lan"], staff_id="nurse-lan") == ""
    wedge_scan(app, card)
    await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
    await wait_until(pilot, lambda: bool(_trail(server_events(running, patient_id))), within=20)
    await pilot.press("f10")
    await wait_until(pilot, lambda: _asking_pin(app) and "nurse-lan" not in _title(app))
    assert not any(isinstance(s, SummaryScreen) for s in app.screen_stack), "the patient stayed on screen"

    running.stop()
    never_online = await _enter(pilot, app, STAFF_PINS["doctor-minh"], staff_id="doctor-minh")
    assert "chưa đăng nhập trực tuyến" in never_online
    assert "Sai mã" in await _enter(pilot, app, "135790", staff_id="nurse-lan")
    assert await _enter(pilot, app, STAFF_PINS["nurse-lan"], staff_id="nurse-lan") == ""
    assert "nurse-lan (ngoại tuyến)" in _title(app)

    wedge_scan(app, card)
    await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=20)
    screen = app.screen
    assert isinstance(screen, SummaryScreen) and screen.outcome.source is LookupSource.CACHE


async def _delivered_claims(
    running: RunningSandbox, settings: Settings, cache: KioskCache, patient_id: str
) -> list[dict[str, str]]:
    """Deliver what the kiosk's outbox holds (a kiosk started again on the same cache); the staff members the
    kiosk's events about the patient claim, as the server keeps them."""
    trust = TrustFile.read(settings.trust_list).trust_list()
    later = lookup_service(settings, trust, IdentifierSystems(), cache)

    def claimed() -> list[dict[str, str]]:
        return [_claimed_staff(e) for e in _trail(server_events(running, patient_id))]

    try:
        # The kiosk tried the event while the server was down, so it waits out its retry delay first.
        deadline = time.monotonic() + 60
        while {"staff": "nurse-lan", "verified": "offline"} not in claimed():
            assert time.monotonic() < deadline, "the queued event never reached the server"
            await later.flush_outbox()
            await asyncio.sleep(0.2)
    finally:
        await later.aclose()
    return claimed()


async def test_wrong_pins_lock_the_staff_id_even_for_the_right_pin(tmp_path: Path) -> None:
    with sandbox(POPULATION) as running:
        app = build_app(settings_for(running, Mode.RECEPTION, tmp_path / "cache"))
        async with app.run_test(size=SIZE) as pilot:
            answers = [await _enter(pilot, app, f"00000{i}", staff_id="clerk-hoa") for i in range(5)]
            assert all("Sai mã" in a for a in answers[:4]) and "Còn 1 lần thử" in answers[3]
            assert "Thử lại sau" in answers[4]
            assert "Thử lại sau" in await _enter(pilot, app, STAFF_PINS["clerk-hoa"], staff_id="clerk-hoa")
            assert "clerk-hoa" not in _title(app)
            person = with_records(POPULATION)[2]
            app.post_message(ScanTextReceived(cccd_qr_text(person), "paste"))
            await wait_until(pilot, _notified(app, SIGN_IN_FIRST))
            assert server_events(running, person.patient_id) == []


async def test_a_staff_member_who_walks_away_is_signed_out_and_the_patient_cleared(
    server: RunningSandbox, tmp_path: Path
) -> None:
    person = with_records(POPULATION)[3]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", staff_idle_sign_out_minutes=0.05))
    async with app.run_test(size=SIZE) as pilot:
        assert await _enter(pilot, app, STAFF_PINS["nurse-lan"], staff_id="nurse-lan") == ""
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await wait_until(pilot, lambda: _asking_pin(app), within=15)  # three seconds without input
        assert not _shown(app, SummaryScreen) and "nurse-lan" not in _title(app)
        built = app.services.lookup.built
        assert built is not None and built.staff is None
