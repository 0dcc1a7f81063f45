"""Snapshots of the key screens with fixed data and a fixed clock (pytest-textual-snapshot).

The app is built by `build_app` like everywhere else; its server address is never contacted here, because each
screen is shown with a fixed outcome (a synthetic patient) rather than a lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode, load_settings
from kiosk.widgets.progress import LookupProgress
from kiosk.wiring import build_app
from lookup.service.results import LookupStep
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
        await pilot.press(*"nurse-lan", "tab", *"246810")

    assert snap_compare(_app(tmp_path, Mode.ER, staff_sign_in=True), terminal_size=SIZE, run_before=type_in)


def test_waiting_for_a_scan(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE)


def test_emergency_summary(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await app.push_screen(SummaryScreen(app.context, samples.FOUND, samples.PATIENT))

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_summary_from_the_offline_cache_in_english(
    snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]
) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await app.push_screen(SummaryScreen(app.context, samples.CACHED, samples.PATIENT))
        await pilot.press("f3")

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_candidates_with_explanations(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await app.push_screen(CandidatesScreen(app.context, samples.CANDIDATES))

    assert snap_compare(make_app(Mode.RECEPTION), terminal_size=SIZE, run_before=show)


def test_break_glass_dialog(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await app.push_screen(BreakGlassDialog(app.t))
        await pilot.press(*"bat tinh")

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)


def test_lobby_check_in_with_large_buttons(snap_compare: SnapCompare, make_app: Callable[[Mode], KioskApp]) -> None:
    async def show(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
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
        progress = app.screen.query_one(LookupProgress)
        progress.begin()
        for name, state in (("connect", "done"), ("identify", "done"), ("summary", "started")):
            progress.advance(LookupStep(name=name, state=state))

    assert snap_compare(make_app(Mode.ER), terminal_size=SIZE, run_before=show)
