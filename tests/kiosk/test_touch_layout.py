"""Usable by touch and on a small screen: the header's language and admin buttons, the lobby's numeric keypad, a
layout that keeps the primary action in view at 80x24, cut facility names that say so, readable second lines.

Driven by Textual's pilot: clicks are taps, sizes are terminal sizes; the keypad's lookup runs against the sandbox.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.color import Color
from rich.console import Console
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input

from kiosk.app import KioskApp
from kiosk.dialogs.notice import NoticeDialog
from kiosk.screens.admin import AdminScreen
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.search import SearchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.settings import Mode, load_settings
from kiosk.widgets.patient import PatientCard
from kiosk.widgets.sections import SectionList
from kiosk.widgets.theme import HIGH_CONTRAST
from kiosk.wiring import build_app
from sandbox.server.runner import RunningSandbox
from testkit.kiosk import sandbox, settings_for, wait_until, with_records
from tests.kiosk import samples

POPULATION = 60
SMALL = (80, 24)
LONG_FACILITY = "Bệnh viện Đa khoa Trung ương Cần Thơ, Trung tâm Hồi sức tích cực và Chống độc, cơ sở 2"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def offline_app(tmp_path: Path, mode: Mode, lang: str = "vi") -> KioskApp:
    """The app of `mode` on a server that is never reached (no staff sign-in: nobody could check it)."""
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=mode,
        lang=lang,
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=False,
    )
    return build_app(settings, clock=samples.fixed_clock)


def keypad_shown(app: KioskApp) -> bool:
    return isinstance(app.screen, SearchScreen) and bool(app.screen.query("NumericKeypad"))


def title(app: KioskApp) -> str:
    return str(app.screen.query_one("#title-bar").render())


def assert_in_view(app: KioskApp, widget: Widget) -> None:
    """The widget is drawn whole inside the screen, not scrolled or pushed below the fold."""
    screen = Region(0, 0, *app.size)
    region = widget.region
    assert region.area > 0, f"{widget!r} is not drawn at all"
    assert screen.contains_region(region), f"{widget!r} at {region} is outside the screen {screen}"


# -- language and admin by touch ------------------------------------------------------------------------------------


async def test_a_tap_on_the_language_button_switches_the_lobby_to_english_and_back(tmp_path: Path) -> None:
    app = offline_app(tmp_path, Mode.LOBBY)
    async with app.run_test(size=SMALL) as pilot:
        assert "Tự làm thủ tục" in title(app)
        await pilot.click("#lang-button")
        await wait_until(pilot, lambda: "Self check-in" in title(app) and app.t.lang == "en")
        # It works on the code screen too, where a foreign patient types their number.
        await pilot.click("#search")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.click("#lang-button")
        await wait_until(pilot, lambda: "Tự làm thủ tục" in title(app) and app.t.lang == "vi")


async def test_the_admin_button_goes_through_the_admin_lock(tmp_path: Path) -> None:
    lobby = offline_app(tmp_path / "lobby", Mode.LOBBY)
    async with lobby.run_test(size=SMALL) as pilot:
        await pilot.click("#admin-button")
        # The lobby is always locked; with no admin PIN configured it says it stays locked.
        await wait_until(pilot, lambda: isinstance(lobby.screen, NoticeDialog))
        assert not any(isinstance(s, AdminScreen) for s in lobby.screen_stack)
    er = offline_app(tmp_path / "er", Mode.ER)
    async with er.run_test(size=SMALL) as pilot:
        await pilot.click("#admin-button")
        await wait_until(pilot, lambda: isinstance(er.screen, AdminScreen))


async def test_header_buttons_never_take_the_focus_from_the_scanner(tmp_path: Path) -> None:
    app = offline_app(tmp_path, Mode.ER)
    async with app.run_test(size=SMALL):
        buttons = list(app.screen.query("#header-buttons Button").results(Button))
        assert [b.id for b in buttons] == ["lang-button", "admin-button"]
        assert not any(b.can_focus for b in buttons)


# -- the lobby's keypad ---------------------------------------------------------------------------------------------


async def test_digits_tapped_on_the_lobby_keypad_and_ok_look_the_patient_up(
    server: RunningSandbox, tmp_path: Path
) -> None:
    person = with_records(POPULATION)[0]
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.click("#search")
        await wait_until(pilot, lambda: keypad_shown(app))
        code = app.screen.query_one("#code", Input)
        # A slip of the finger, taken back: one wrong digit deleted, then everything cleared and typed again.
        await pilot.click("#key-9")
        await pilot.click("#key-back")
        assert code.value == ""
        await pilot.click("#key-1")
        await pilot.click("#key-clear")
        assert code.value == ""
        await pilot.click("#key-0")
        await pilot.click("#key-0")  # a quick second tap on one key counts too
        assert code.value == "00"
        await pilot.click("#key-clear")
        for digit in person.cccd:
            await pilot.click(f"#key-{digit}")
        assert code.value == person.cccd
        await pilot.click("#key-ok")
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen), within=15)
        assert isinstance(app.screen, VisitScreen) and app.screen.patient.id == person.patient_id


async def test_keypad_keys_are_finger_sized_and_in_view_at_80x24(tmp_path: Path) -> None:
    app = offline_app(tmp_path, Mode.LOBBY)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.click("#search")
        await wait_until(pilot, lambda: keypad_shown(app))
        keys = list(app.screen.query("NumericKeypad Button").results(Button))
        assert sorted(k.id or "" for k in keys) == sorted(
            [f"key-{d}" for d in "0123456789"] + ["key-back", "key-clear", "key-ok"]
        )
        for key in keys:
            assert key.region.height >= 3, f"{key.id} is {key.region.height} rows tall"
            assert not key.can_focus
            assert_in_view(app, key)
        assert_in_view(app, app.screen.query_one("#go"))
        assert_in_view(app, app.screen.query_one("#code"))


# -- layout at 80x24 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_primary_actions_stay_in_view_at_80x24(tmp_path: Path, lang: str) -> None:
    app = offline_app(tmp_path, Mode.ER, lang)
    async with app.run_test(size=SMALL) as pilot:
        assert isinstance(app.screen, WaitingScreen)
        assert_in_view(app, app.screen.query_one("#search"))
        await pilot.click("#search")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        # The form is taller than 24 rows: it scrolls, the search button and the form's error line do not.
        for selector in ("#go", "#form-error", "#lang-button", "#admin-button"):
            assert_in_view(app, app.screen.query_one(selector))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))
        for selector in ("#lang-button", "#admin-button"):
            assert_in_view(app, app.screen.query_one(selector))


async def test_the_candidates_why_column_stays_in_view_at_80x24(tmp_path: Path) -> None:
    app = offline_app(tmp_path, Mode.ER)
    async with app.run_test(size=SMALL) as pilot:
        await app.push_screen(CandidatesScreen(app.context, samples.CANDIDATES))
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        labels = [str(column.label) for column in table.columns.values()]
        why = labels.index(app.t("col.why"))
        right_edge = sum(column.get_render_width(table) for column in list(table.columns.values())[: why + 1])
        assert table.region.x + right_edge <= SMALL[0], f"the why column ends at {right_edge} of {SMALL[0]} columns"


async def test_a_long_facility_name_ends_with_an_ellipsis_even_on_a_wide_screen(tmp_path: Path) -> None:
    place = samples.BACH_MAI.model_copy(update={"facility_name": LONG_FACILITY})
    allergy = samples.SUMMARY.allergies[0].model_copy(update={"provenance": place})
    summary = samples.SUMMARY.model_copy(update={"allergies": (allergy,)})
    outcome = samples.FOUND.model_copy(update={"summary": summary})
    app = offline_app(tmp_path, Mode.ER)
    async with app.run_test(size=(200, 50)) as pilot:
        await app.push_screen(SummaryScreen(app.context, outcome, samples.PATIENT))
        await wait_until(pilot, lambda: bool(app.screen.query(SectionList)))
        console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
        for sections in app.screen.query(SectionList):
            console.print(sections.render(), markup=False)
        shown = console.export_text()
        assert LONG_FACILITY not in shown
        cut = [line for line in shown.splitlines() if "Bệnh viện Đa khoa" in line]
        assert cut, "the facility is not shown at all"
        assert all("…" in line for line in cut), cut


# -- contrast -------------------------------------------------------------------------------------------------------


def _contrast(foreground: Color, background: Color) -> float:
    def luminance(color: Color) -> float:
        channels = [c / 255 for c in color.get_truecolor()]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_second_identifiers_are_readable_on_the_high_contrast_theme(tmp_path: Path) -> None:
    """WCAG AAA (7:1) for the BHYT/CCCD line under the name; ANSI bright black is a terminal's guess, not a colour."""
    app = offline_app(tmp_path, Mode.ER)
    text = PatientCard._render_card(app.context, samples.PATIENT)
    second = text.plain.index("\n") + 1
    background = Color.parse(HIGH_CONTRAST.background or "#000000")
    styles = [span.style for span in text.spans if span.end > second]
    assert styles, "the identifiers have no style of their own"
    for style in styles:
        color = Color.parse(style) if isinstance(style, str) else style.color
        assert color is not None and not color.is_system_defined, f"{style!r} depends on the terminal's palette"
        assert color.triplet is not None and _contrast(color, background) >= 7.0, f"{style!r} is too faint"
