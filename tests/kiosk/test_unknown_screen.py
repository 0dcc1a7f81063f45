"""The ER's registration of an unidentified patient, driven by Textual's pilot against the real sandbox: one key from
the start screen, a few fields, a temporary number at once (created on the server, or kept until it is back), its
wristband written and the patient opened by that number; never offered in the lobby or at reception."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.i18n import Lang, catalogue
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.unknown import Problem, UnknownPatientScreen, read_age, read_arrival
from kiosk.screens.waiting import WaitingScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.temporary import TEMPORARY_SYSTEM, TemporaryPatient, printed_number, temporary_alias
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from testkit.kiosk import sandbox, settings_for, sign_in, wait_until
from tests.kiosk.test_words_on_screen import drawn, foreign_words
from tests.lookup.fhirserver import free_port

POPULATION = 60
SIZE = (120, 44)
DESCRIPTION = "Áo khoác xanh [bold]quần jean[/], tìm thấy ở bến xe Miền Đông"
"""Clothing and a place, with markup that must stay inert."""


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def screen_words(app: KioskApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def form(app: KioskApp) -> UnknownPatientScreen:
    screen = app.screen
    assert isinstance(screen, UnknownPatientScreen), f"the screen is {screen!r}"
    return screen


async def open_form(app: KioskApp, pilot: Pilot[None]) -> UnknownPatientScreen:
    await pilot.press("f6")
    await wait_until(pilot, lambda: isinstance(app.screen, UnknownPatientScreen) and app.screen.is_mounted)
    return form(app)


def registered(app: KioskApp) -> TemporaryPatient | None:
    screen = app.screen
    return screen.registered if isinstance(screen, UnknownPatientScreen) else None


async def test_registered_online_the_patient_is_on_the_server_and_its_band_printed(
    server: RunningSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prints = tmp_path / "prints"
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", print_dir=prints))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        before = app.context.clock().astimezone().strftime("%H:%M")
        screen = await open_form(app, pilot)
        after = app.context.clock().astimezone().strftime("%H:%M")
        assert app.focused is screen.query_one("#age", Input), "the age field takes the first keys"
        await pilot.press("4", "5")
        await pilot.click("#sex-male")
        screen.query_one("#description", Input).value = DESCRIPTION
        arrival = screen.query_one("#arrival", Input)
        assert arrival.value in (before, after), "arrival defaults to now"
        arrival.value = "06:30"
        screen.query_one("#register", Button).press()
        await wait_until(pilot, lambda: registered(app) is not None, within=20)
        made = registered(app)
        assert made is not None and made.status == "created" and made.patient_id is not None, made
        words = screen_words(app)
        assert printed_number(made.number) in words and temporary_alias(made.number) in words
        assert "Đã tạo trên máy chủ" in words
        assert screen.query_one("#register", Button).disabled, "one person, one number: no second registration"
        assert screen.query_one("#age", Input).disabled and screen.query_one("#sex-female", Button).disabled

        stored = server.state.store.patient(made.patient_id)
        assert stored is not None, "the Patient is on the server"
        assert [(i["system"], i["value"]) for i in stored.resource["identifier"]] == [(TEMPORARY_SYSTEM, made.number)]
        assert stored.resource["gender"] == "male"
        extension = next(e for e in stored.resource["extension"] if e["url"].endswith("unidentified-arrival"))
        parts = {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in extension["extension"]}
        assert parts["estimatedAge"] == 45 and parts["description"] == " ".join(DESCRIPTION.split())
        assert "T06:30:00" in parts["arrival"]
        # The description is shown only in its field, as typed: the markup in it is text.
        assert "[bold]quần jean[/]" in drawn(app)

        await pilot.click("#print-band")
        await wait_until(pilot, lambda: "wristband-" in screen_words(app), within=20)
        png, pdf = prints / f"wristband-{made.number}.png", prints / f"wristband-{made.number}.pdf"
        assert png.read_bytes().startswith(b"\x89PNG") and pdf.read_bytes().startswith(b"%PDF")
        assert str(png) in screen_words(app) and str(pdf) in screen_words(app)

        await pilot.click("#open-patient")
        # The lookup of the number a clerk would type opens the record the ER itself wrote, with no emergency reason
        # asked: nobody could be asked for consent, and nothing of another facility is behind it.
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen | BreakGlassDialog), within=20)
        assert not isinstance(app.screen, BreakGlassDialog), "the ER's own temporary record asked to break the glass"
        summary = app.screen
        assert isinstance(summary, SummaryScreen) and summary.patient.id == made.patient_id

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unidentified patient registered" in logged, "the log says what happened"
    for piece in ("Áo khoác", "quần jean", "Miền Đông"):
        assert piece not in logged, f"{piece!r} was logged"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kiosk"))
    assert made.number not in ours, "the kiosk logs no temporary number"


async def test_registered_with_the_server_down_the_number_is_shown_at_once_and_created_later(tmp_path: Path) -> None:
    port = free_port()
    config = SandboxConfig(db_path=tmp_path / "s.sqlite", population=POPULATION, demo_clients=True)
    trust = tmp_path / "trust.json"
    with start_sandbox(config, trust_list_path=trust, port=port) as running:
        app = build_app(settings_for(running, Mode.ER, tmp_path / "cache"))
        await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        await pilot.press("1", "9", "8", "0")
        screen.query_one("#register", Button).press()
        await wait_until(pilot, lambda: registered(app) is not None, within=30)
        made = registered(app)
        assert made is not None and made.status == "queued" and made.patient_id is None, made
        words = screen_words(app)
        assert printed_number(made.number) in words and temporary_alias(made.number) in words
        assert "sẽ tạo khi máy chủ hoạt động lại" in words and "Số tạm thời dùng được ngay" in words

        with start_sandbox(config, trust_list_path=trust, port=port) as running:
            service = app.services.lookup.get()
            # As the app's outbox delivery does (every few seconds), once the kiosk asks the server again.
            deadline = time.monotonic() + 40
            found = None
            while time.monotonic() < deadline and (found is None or found.status != "created"):
                await service.flush_outbox()
                found = await service.temporary_patient(made.number)
                await asyncio.sleep(0.5)
            assert found is not None and found.status == "created" and found.patient_id is not None, found
            stored = running.state.store.patient(found.patient_id)
            assert stored is not None and stored.resource["birthDate"] == "1980"
            assert [(i["system"], i["value"]) for i in stored.resource["identifier"]] == [
                (TEMPORARY_SYSTEM, made.number)
            ]


@pytest.mark.parametrize(
    ("age", "arrival", "says"),
    [
        ("121", "", "số từ 0 đến 120"),
        ("2999", "", "Năm sinh 2999 chưa tới"),
        ("1850", "", "số từ 0 đến 120"),
        ("30", "25:10", "Giờ đến viết hh:mm"),
        ("", "7 giờ", "Giờ đến viết hh:mm"),
    ],
)
async def test_a_wrong_field_is_explained_and_nothing_is_registered(
    server: RunningSandbox, tmp_path: Path, age: str, arrival: str, says: str
) -> None:
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        screen.query_one("#age", Input).value = age
        if arrival:
            screen.query_one("#arrival", Input).value = arrival
        await pilot.press("enter")
        await pilot.pause()
        assert says in str(screen.query_one("#form-error", Static).render())
        wrong = "#age" if not arrival else "#arrival"
        assert screen.query_one(wrong, Input).has_class("-invalid") and app.focused is screen.query_one(wrong, Input)
        assert registered(app) is None and not screen.query_one("#register", Button).disabled
        assert not [w for w in app.workers if w.name == "register-unknown"], "no registration was started"


@pytest.mark.parametrize("mode", [Mode.ER, Mode.RECEPTION, Mode.LOBBY])
async def test_offered_in_the_er_only(server: RunningSandbox, tmp_path: Path, mode: Mode) -> None:
    app = build_app(settings_for(server, mode, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = app.screen
        assert isinstance(start, WaitingScreen)
        assert bool(start.query("#unknown-patient")) is (mode is Mode.ER)
        assert ("F6" in screen_words(app)) is (mode is Mode.ER)
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, UnknownPatientScreen) is (mode is Mode.ER)


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_form_and_its_answer_in_each_language(server: RunningSandbox, tmp_path: Path, lang: Lang) -> None:
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", lang=lang, print_dir=tmp_path / "prints"))
    await sign_in(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert catalogue(lang)["waiting.unknown"] in drawn(app)
        seen = drawn(app)
        assert not foreign_words(lang, seen), f"start in {lang}: {sorted(foreign_words(lang, seen))}\n{seen}"
        screen = await open_form(app, pilot)
        seen = drawn(app)
        assert not foreign_words(lang, seen), f"form in {lang}: {sorted(foreign_words(lang, seen))}\n{seen}"
        screen.query_one("#age", Input).value = "999"
        await pilot.press("enter")
        await pilot.pause()
        assert catalogue(lang)["unknown.bad-age"].format(oldest=120) in drawn(app)
        assert not foreign_words(lang, drawn(app))
        screen.query_one("#age", Input).value = "70"
        await pilot.press("enter")
        await wait_until(pilot, lambda: registered(app) is not None, within=20)
        await pilot.click("#print-band")
        await wait_until(pilot, lambda: "wristband-" in screen_words(app), within=20)
        made = registered(app)
        assert made is not None
        # The alias is a name, the same in every language (it is what the wristband says): data, not words.
        seen = drawn(app).replace(made.alias, "")
        assert catalogue(lang)["unknown.created"] in seen
        assert not foreign_words(lang, seen), f"answer in {lang}: {sorted(foreign_words(lang, seen))}\n{seen}"
        await pilot.press("f3")
        await pilot.pause()
        other: Lang = "en" if lang == "vi" else "vi"
        seen = drawn(app).replace(made.alias, "")
        assert made is not None and printed_number(made.number) in seen, "the answer stays after a language switch"
        assert catalogue(other)["unknown.created"] in seen and not foreign_words(other, seen)


def test_the_age_field_reads_an_age_or_a_birth_year_and_the_time_of_arrival() -> None:
    today = dt.date(2026, 12, 2)
    assert read_age("0", today) == (0, None) and read_age("120", today) == (120, None)
    assert read_age("2026", today) == (None, 2026) and read_age("", today) == (None, None)
    assert isinstance(read_age("2027", today), Problem) and isinstance(read_age("1905", today), Problem)
    now = dt.datetime(2026, 12, 2, 0, 10, tzinfo=dt.UTC)
    assert read_arrival("0005", now) == dt.datetime(2026, 12, 2, 0, 5, tzinfo=dt.UTC)
    assert read_arrival("23:55", now) == dt.datetime(2026, 12, 1, 23, 55, tzinfo=dt.UTC), "just before midnight"
    assert isinstance(read_arrival("24:00", now), Problem) and isinstance(read_arrival("12:60", now), Problem)
