"""Snapshots of the key screens with fixed data and a fixed clock (pytest-textual-snapshot).

The app is built by `build_app` like everywhere else; its server address is never contacted here, because each
screen is shown with a fixed outcome (a synthetic patient) rather than a lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.identity import IdentityMismatchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode, load_settings
from kiosk.widgets.progress import LookupProgress
from kiosk.wiring import build_app
from lookup.service.results import LookupStep
from testkit.kiosk import wait_until
from tests.kiosk import samples

SIZE = (110, 36)
SnapCompare = Callable[..., bool]


def _app(tmp_path: Path, mode: Mode, *, staff_sign_in: bool) -> KioskApp:
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=mode,
        lang="vi",
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=staff_sign_in,
    )
    return build_app(settings, clock=samples.fixed_clock)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[Mode], KioskApp]:
    """The screens as they look once someone may use them (no staff sign-in in front: that has its own snapshot)."""

    def make(mode: Mode) -> KioskApp:
        return _app(tmp_path, mode, staff_sign_in=False)

    return make


def test_staff_sign_in_with_the_pin_masked(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def type_in(pilot: Pilot[None]) -> None:
        await _network_known(pilot)
        await pilot.press(*"nurse-lan", "tab", *"246810")

    assert snap_compare(_app(tmp_path, Mode.ER, staff_sign_in=True), terminal_size=SIZE, run_before=type_in)


def test_waiting_for_a_scan(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=_network_known)


def test_emergency_summary(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        await app.push_screen(SummaryScreen(app.context, samples.FOUND, samples.PATIENT))

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_summary_from_the_offline_cache_in_english(
    snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]
) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        await app.push_screen(SummaryScreen(app.context, samples.CACHED, samples.PATIENT))
        await pilot.press("f3")

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_candidates_with_explanations(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        await app.push_screen(CandidatesScreen(app.context, samples.CANDIDATES))

    assert snap_compare(make_app(Mode.RECEPTION), terminal_size=SIZE, run_before=show)


def test_break_glass_dialog(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        await app.push_screen(BreakGlassDialog(app.t, patient=samples.PATIENT))
        await pilot.press(*"bat tinh")

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_lobby_check_in_with_large_buttons(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        screen = VisitScreen(
            app.context,
            samples.FOUND.model_copy(update={"summary": None}),
            samples.PATIENT,
            app.services.lookup.get(),
            appointments=list(samples.SUMMARY.appointments),
        )
        await app.push_screen(screen)

    assert snap_compare(make_app(Mode.LOBBY), terminal_size=SIZE, run_before=show)


def test_lookup_progress_names_each_step(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        progress = app.screen.query_one(LookupProgress)
        progress.begin()
        for name, state in (("connect", "done"), ("identify", "done"), ("summary", "started")):
            progress.advance(LookupStep(name=name, state=state))

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


SMALL = (80, 24)


async def _network_known(pilot: Pilot[None]) -> None:
    """Wait for the header's network mark to leave "checking" (its server is never reached), so the picture holds."""
    app = pilot.app
    assert isinstance(app, KioskApp)
    base = app.screen_stack[0]
    await wait_until(pilot, lambda: app.context.network.online is not None and bool(base.query("#lang-button")))
    await wait_until(pilot, lambda: "-offline" in base.query_one("#network-mark").classes)


def test_waiting_for_a_scan_at_80x24(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    """The smallest terminal the kiosk supports: the search button and the header's touch buttons in view."""
    assert snap_compare(make_app(Mode.ER), terminal_size=SMALL, run_before=_network_known)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_lobby_code_entry_with_the_keypad(
    snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp], lang: str
) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        if lang == "en":
            await pilot.click("#lang-button")
            await wait_until(pilot, lambda: app.t.lang == "en" and bool(app.screen.query("#search")))
        await pilot.click("#search")
        await wait_until(pilot, lambda: bool(app.screen.query("#key-ok")))
        for key in ("#key-0", "#key-0", "#key-1"):
            await pilot.click(key)
        app.screen.query_one("#code", Input).cursor_blink = False  # a blinking cursor makes two pictures
        await pilot.pause()

    assert snap_compare(make_app(Mode.LOBBY), terminal_size=SIZE, run_before=show)


def test_lobby_check_in_in_english(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        await pilot.click("#lang-button")
        await wait_until(pilot, lambda: app.t.lang == "en" and bool(app.screen.query("#lang-button")))
        screen = VisitScreen(
            app.context,
            samples.FOUND.model_copy(update={"summary": None}),
            samples.PATIENT,
            app.services.lookup.get(),
            appointments=list(samples.SUMMARY.appointments),
        )
        await app.push_screen(screen)

    assert snap_compare(make_app(Mode.LOBBY), terminal_size=SIZE, run_before=show)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_card_and_record_side_by_side(
    snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp], lang: str
) -> None:
    """A card naming another person than the record its number found: both identities, the differences in red."""

    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await _network_known(pilot)
        if lang == "en":
            await pilot.press("f3")
            await wait_until(pilot, lambda: app.t.lang == "en")
        await app.push_screen(IdentityMismatchScreen(app.context, samples.MISMATCH, samples.PATIENT))
        await pilot.pause()

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)
