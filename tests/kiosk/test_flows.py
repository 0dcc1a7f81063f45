"""Each mode's main path, driven by Textual's pilot against the real sandbox and the real lookup service.

ER: scan -> summary; search -> choose -> summary; consent -> break-glass; offline -> cached. Reception: scan ->
check-in. Lobby: scan -> check-in -> idle reset clears everything. And the faults a clerk may meet: a code the kiosk
does not know, a server that is down; each ends in words, never a traceback.
"""

from __future__ import annotations

import asyncio
import io
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Static

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.dialogs.notice import NoticeDialog
from kiosk.screens.base import KioskScreen
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.search import SearchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.services.scanning import camera_starter
from kiosk.settings import Mode, load_settings
from kiosk.widgets.sections import SectionList
from kiosk.wiring import build_app, build_services
from lookup.domain.model import LookupSource
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy

POPULATION = 400
SIZE = (120, 40)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


async def app_for(server: RunningSandbox, mode: Mode, tmp_path: Path, **extra: object) -> KioskApp:
    """The app of `mode`, with the mode's demo staff member signed in (ER and reception ask for one first)."""
    app = build_app(settings_for(server, mode, tmp_path / "cache", **extra))
    await sign_in(app)
    return app


def screen_text(app: KioskApp) -> str:
    """Everything the current screen shows in its static texts (tables included), as plain text."""
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    for widget in app.screen.query(Static):
        content = widget.content
        console.print(content if isinstance(content, str | Text | Table) else str(content), markup=False)
    for sections in app.screen.query(SectionList):
        console.print(sections.render(), markup=False)
    return console.export_text()


def unaccented(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded if not unicodedata.combining(c))


async def test_er_scan_opens_the_verified_summary(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[0]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        assert screen.patient.id == person.patient_id
        assert person.full_name in screen_text(app)
        summary = screen.outcome.summary
        assert summary is not None and summary.documents
        assert all(d.signature.status.value == "valid" for d in summary.documents)
        assert "đã ký" in screen_text(app)


async def test_er_search_without_accents_choose_then_summary(server: RunningSandbox, tmp_path: Path) -> None:
    twins = _twins(people(POPULATION))
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        first = twins[0]
        # Family name typed without accents and the birth date: both twins fit, so the clerk must choose.
        await _fill(pilot, app, "family", unaccented(first.family))
        await _fill(pilot, app, "birth", first.birth_date.strftime("%d/%m/%Y"))
        app.screen.query_one("#family", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen | SummaryScreen), within=15)
        if isinstance(app.screen, CandidatesScreen):
            keys = [c.patient.id for c in app.screen.candidates]
            assert first.patient_id in keys
            # Choosing is explicit: move to the right row and press Enter.
            for _ in range(keys.index(first.patient_id)):
                await pilot.press("down")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen | BreakGlassDialog), within=15)
        else:
            pytest.fail("a search by name and birth date among twins must not be certain")
        if isinstance(app.screen, SummaryScreen):
            assert app.screen.patient.id == first.patient_id


async def test_er_consent_required_then_break_glass_is_audited(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION, consented=False)[0]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog))
        await pilot.press(*"unconscious")
        confirm = app.screen.query_one("#confirm")
        assert confirm.disabled is False
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        assert screen.outcome.break_glass
        assert any("kiểm tra" in line for line in screen.banner.lines)


async def test_break_glass_needs_a_reason(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION, consented=False)[1]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog))
        await pilot.press("x", "enter")
        assert isinstance(app.screen, BreakGlassDialog)
        assert "8" in str(app.screen.query_one("#reason-error", Static).content)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))


async def test_a_reason_the_server_refuses_is_shown_in_its_words(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION, consented=False)[2]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog))
        first = app.screen
        await pilot.press(*"........", "enter")  # long enough for the dialog, but no reason to the server
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog) and app.screen is not first)
        shown = str(app.screen.query_one("#reason-error", Static).content)
        assert "Máy chủ không nhận lý do này" in shown and "letters or digits" in shown
        assert "Traceback" not in screen_text(app)


async def test_offline_answers_from_the_cache_with_its_age(tmp_path: Path) -> None:
    person = with_records(120)[0]
    with sandbox(120) as running:
        app = await app_for(running, Mode.ER, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
            running.stop()
            await pilot.press("ctrl+n")
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, SummaryScreen) and app.screen.outcome.source is LookupSource.CACHE,
                within=20,
            )
            assert isinstance(app.screen, SummaryScreen)
            assert any("Mất kết nối" in line for line in app.screen.banner.lines)
            assert person.full_name in screen_text(app)


async def test_reception_scan_then_check_in(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.RECEPTION, tmp_path)
    person = await _with_appointment_today(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
        assert "Giấy chuyển tuyến" in screen_text(app)  # reception sees referrals
        await pilot.click(".checkin")
        await wait_until(pilot, lambda: bool(app.screen.query(".checkin-result")))
        assert "Đã xác nhận" in screen_text(app)


async def test_lobby_resets_to_the_start_after_idle(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.LOBBY, tmp_path, idle_reset_seconds=2.0)
    person = await _with_appointment_today(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen))
        visit = app.screen
        assert isinstance(visit, VisitScreen)
        assert visit.outcome.summary is None  # the lobby client is given nothing clinical
        assert person.given in screen_text(app)
        await wait_until(pilot, lambda: len(app.screen_stack) == 1, within=5)
        assert isinstance(app.screen, WaitingScreen)
        assert person.given not in screen_text(app)


async def test_unknown_code_is_explained_in_words(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, "hello-world-not-a-card")
        await wait_until(pilot, lambda: "Đây không phải" in screen_text(app))
        assert isinstance(app.screen, WaitingScreen)


async def test_server_down_is_a_notice_not_a_traceback(tmp_path: Path) -> None:
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=Mode.ER,
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=False,  # no server to sign staff in
    )
    app = build_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(people(5)[0]))
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=20)
        text = screen_text(app)
        assert "Không kết nối được máy chủ" in text
        assert "Traceback" not in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))


async def _fill(pilot: object, app: KioskApp, field: str, value: str) -> None:
    app.screen.query_one(f"#{field}", Input).value = value


def _twins(crowd: list[SyntheticPerson]) -> list[SyntheticPerson]:
    """Two people of one household born the same day: the case no search may call certain."""
    by_birth: dict[tuple[int, object], list[SyntheticPerson]] = {}
    for person in crowd:
        by_birth.setdefault((person.household, person.birth_date), []).append(person)
    for group in by_birth.values():
        if len(group) >= 2 and group[0].family == group[1].family:
            return group
    raise AssertionError("the test population has no twins")


async def _with_appointment_today(app: KioskApp) -> SyntheticPerson:
    """Someone the sandbox booked for today and who has not arrived yet, asked through the app's own service."""
    for person in with_records(POPULATION):
        appointments = await app.services.lookup.get().appointments_today(person.patient_id)
        if any(a.status == "booked" for a in appointments):
            return person
    raise AssertionError("nobody in the test population has an appointment today")


class _CameraFrames:
    """A camera that keeps showing one printed QR code (the one thing these tests put in place of hardware)."""

    def __init__(self, image: object) -> None:
        self._image = image

    def read(self) -> tuple[bool, object]:
        time.sleep(1 / 30)
        return True, self._image

    def release(self) -> None:
        return None


async def test_camera_scan_opens_the_summary(server: RunningSandbox, tmp_path: Path) -> None:
    import numpy as np
    import zxingcpp

    person = with_records(POPULATION)[2]
    code = zxingcpp.create_barcode(cccd_qr_text(person), zxingcpp.BarcodeFormat.QRCode)
    image = np.pad(np.asarray(code.to_image(scale=6)), 40, constant_values=255)
    settings = settings_for(server, Mode.ER, tmp_path / "cache")
    services = build_services(settings)
    services.camera = camera_starter(settings, services.reader, open_source=lambda: _CameraFrames(image))
    app = build_app(settings, services=services)
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=15)
        assert isinstance(app.screen, SummaryScreen)
        assert app.screen.patient.id == person.patient_id


async def test_admin_screen_counts_lookups_and_shows_no_patient(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[3]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen | BreakGlassDialog))
        await pilot.press("ctrl+n", "f3", "f9")
        await wait_until(pilot, lambda: "Server answers" in screen_text(app) and "yes" in screen_text(app))
        text = screen_text(app)
        assert server.base_url in text
        assert "total 1" in text
        assert person.full_name not in text and person.cccd not in text
        # The lookup's audit event was delivered by the app's outbox worker and acknowledged by the server.
        for _ in range(20):
            if "acknowledged: 1" in screen_text(app):
                break
            await pilot.press("f5")
            await asyncio.sleep(0.1)
        assert "acknowledged: 1" in screen_text(app)


class _BrokenScreen(KioskScreen):
    """A screen with a fault in it, to prove a fault never reaches the clerk as a traceback."""

    def compose_body(self) -> ComposeResult:
        raise RuntimeError("a fault that names nobody")


async def test_a_fault_in_a_screen_becomes_a_notice_and_a_fresh_start(tmp_path: Path) -> None:
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=Mode.ER,
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=False,  # no server to sign staff in
    )
    app = build_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(_BrokenScreen(app.context))
        # `wait_until` stops at the first fault; here the fault is what is awaited (up to 10 s).
        for _ in range(1000):
            if isinstance(app.screen, NoticeDialog):
                break
            await asyncio.sleep(0.01)
        await pilot.pause()
        assert app.faults[0] == "RuntimeError"
        assert app.is_running and isinstance(app.screen, NoticeDialog)
        assert "Traceback" not in screen_text(app)
        assert len(app.screen_stack) == 2  # the start screen and the notice


async def test_a_card_scanned_into_a_form_field_is_read_as_a_scan(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[4]
    app = await app_for(server, Mode.RECEPTION, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.focused, Input))
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen))
        assert isinstance(app.screen, VisitScreen) and app.screen.patient.id == person.patient_id


async def test_check_in_while_offline_is_queued_and_says_so(tmp_path: Path) -> None:
    with sandbox(POPULATION) as running:
        app = await app_for(running, Mode.RECEPTION, tmp_path)
        person = await _with_appointment_today(app)
        async with app.run_test(size=SIZE) as pilot:
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
            running.stop()
            await pilot.click(".checkin")
            await wait_until(pilot, lambda: bool(app.screen.query(".checkin-result")), within=20)
            assert "sẽ gửi khi có mạng" in screen_text(app)


@pytest.mark.parametrize(
    "plan",
    [
        FaultPlan(Fault.STATUS, path_contains="Patient", status=500),
        FaultPlan(Fault.STATUS, path_contains="Patient", status=429, retry_after="30"),
        FaultPlan(Fault.TRUNCATE, path_contains="Patient"),
        FaultPlan(Fault.INVALID, path_contains="Patient"),
        FaultPlan(Fault.KILL, path_contains="Patient"),
    ],
    ids=lambda plan: f"{plan.fault.value}-{plan.status}",
)
async def test_network_faults_end_in_words_never_a_traceback(
    server: RunningSandbox, tmp_path: Path, plan: FaultPlan
) -> None:
    person = with_records(POPULATION)[5]
    with FaultProxy(f"http://127.0.0.1:{server.port}") as proxy:
        proxy.plan = plan
        settings = settings_for(server, Mode.ER, tmp_path / "cache").model_copy(
            update={"server": proxy.base_url("/fhir")}
        )
        app = build_app(settings)
        await sign_in(app)
        async with app.run_test(size=SIZE) as pilot:
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog | SummaryScreen), within=30)
            assert proxy.hits > 0
            assert app.faults == []
            assert "Traceback" not in screen_text(app)
            if isinstance(app.screen, NoticeDialog):
                assert "máy chủ" in screen_text(app).lower()


async def test_language_switch_reaches_screens_underneath(tmp_path: Path) -> None:
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=Mode.ER,
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=False,  # no server to sign staff in
    )
    app = build_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        assert "Quét CCCD" in screen_text(app)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press("f3")
        await wait_until(pilot, lambda: "Search for a patient" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))
        await wait_until(pilot, lambda: "Scan the patient's ID card" in screen_text(app))


async def test_a_number_typed_by_hand_on_the_start_screen_finds_the_patient(
    server: RunningSandbox, tmp_path: Path
) -> None:
    person = with_records(POPULATION)[6]
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for digit in person.cccd:  # a person types 120-300 ms apart; the wedge detector must not take it for a scan
            await pilot.press(digit)
            await asyncio.sleep(0.08)
        await wait_until(pilot, lambda: isinstance(app.focused, Input) and app.focused.value == person.cccd)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert isinstance(app.screen, SummaryScreen) and app.screen.patient.id == person.patient_id
