"""The lobby's self check-in on its touch screen: the person who scanned a card answers a second factor (the birth
date on the record: the lobby is never sent a phone) on the on-screen keypad before the kiosk checks them in; three
wrong answers end the session with words that say nothing of the record. The end is a screen of its own: the queue
number large, the department, the room and where to go, in Vietnamese or English by touch, printed on the kiosk's
printer when one is set, and gone after the idle reset."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Digits, Static

from kiosk.app import KioskApp
from kiosk.dialogs.notice import NoticeDialog
from kiosk.dialogs.second_factor import SecondFactorDialog
from kiosk.screens.lobby_ticket import LobbyTicketScreen
from kiosk.screens.visit import VisitScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.clinical import events
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import SEED, sandbox, settings_for, wait_until, wedge_scan, with_records

POPULATION = 400
SIZE = (120, 48)
SMALL = (80, 24)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def booked_today(skip: int) -> SyntheticPerson:
    """Someone the sandbox booked for today who has not arrived yet (others' tests take the first few)."""
    found = []
    for person in with_records(POPULATION):
        province = OLD_PROVINCES_BY_NAME[person.card_province].current_code
        if any(a.day == 0 and a.status == "booked" for a in events(person.index, SEED, province).appointments):
            found.append(person)
    return found[skip]


def screen_words(app: KioskApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def tap_digits(pilot: Pilot[None], digits: str) -> None:
    """Tap each digit and OK on the on-screen keypad, as a finger does."""
    for digit in digits:
        await pilot.click(f"#key-{digit}")
    await pilot.click("#key-ok")
    await pilot.pause()


async def tap_check_in(app: KioskApp, pilot: Pilot[None], person: SyntheticPerson) -> None:
    wedge_scan(app, cccd_qr_text(person))
    await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
    await pilot.click(".checkin")
    await wait_until(pilot, lambda: isinstance(app.screen, SecondFactorDialog))


async def test_the_right_birth_date_checks_in_and_ends_on_the_ticket_screen(
    server: RunningSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = booked_today(skip=10)
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        await tap_check_in(app, pilot, person)
        assert "ngày sinh" in screen_words(app)
        answer = person.birth_date.strftime("%d%m%Y")
        await tap_digits(pilot, answer)
        await wait_until(pilot, lambda: isinstance(app.screen, LobbyTicketScreen), within=15)
        screen = app.screen
        assert isinstance(screen, LobbyTicketScreen)
        number, room = screen.ticket.queue_number, screen.ticket.room
        assert room and screen.department
        assert number[1:] == str(screen.query_one(".ticket-digits", Digits).value)  # in large type
        words = screen_words(app)
        assert number in words and room in words
        assert f"Mời bạn đến {screen.department}, {room}" in words
        assert "Vui lòng ghi nhớ số thứ tự" in words  # no printer: the screen is the ticket
        await pilot.click("#lang-button")
        await wait_until(pilot, lambda: "Please go to" in screen_words(app))
        words = screen_words(app)
        assert f"Please go to {screen.department}, {room}" in words and number in words
        assert f"Department: {screen.department}" in words
        # The idle reset brings back the start screen.
        app.last_input -= app.settings.idle_reset_seconds + 1
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen), within=5)
        assert not app.faults
        appointments = await app.services.lookup.get().appointments_today(person.patient_id)
    assert any(a.status in ("arrived", "checked-in") for a in appointments), "the appointment was not checked in"
    assert answer not in caplog.text, "the answer reached a log line"


async def test_three_wrong_answers_end_the_session_saying_nothing_of_the_record(
    server: RunningSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = booked_today(skip=11)
    right = person.birth_date.strftime("%d%m%Y")
    wrong = ["01011900", right[:4] + str(int(right[4:]) + 1), "31129999"]
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SMALL) as pilot:  # every key within reach on a small lobby screen too
        await tap_check_in(app, pilot, person)
        await tap_digits(pilot, wrong[0])
        assert isinstance(app.screen, SecondFactorDialog) and "2" in screen_words(app)  # tries left, nothing more
        await tap_digits(pilot, wrong[1])
        assert isinstance(app.screen, SecondFactorDialog)
        await tap_digits(pilot, wrong[2])
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog))
        assert isinstance(app.screen_stack[0], WaitingScreen) and len(app.screen_stack) == 2  # back to the start
        words = screen_words(app)
        assert "Nhân viên tiếp đón sẽ hỗ trợ" in words
        for revealing in (person.full_name, right, str(person.birth_date.year), person.family):
            assert revealing not in words
        await pilot.click("#ok")
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))
        appointments = await app.services.lookup.get().appointments_today(person.patient_id)
    assert appointments and all(a.status == "booked" for a in appointments), "checked in without the second factor"
    for answer in wrong:
        assert answer not in caplog.text, "an answer reached a log line"


async def test_a_lobby_walk_in_asks_the_second_factor_and_prints_on_the_kiosk_printer(
    server: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lp` is a script on PATH that keeps what it is sent (the system print service stands in for CUPS here)."""
    bin_dir, spool = tmp_path / "bin", tmp_path / "spool"
    bin_dir.mkdir()
    spool.mkdir()
    lp = bin_dir / "lp"
    lp.write_text(f'#!/bin/sh\n[ "$1" = "-d" ] || exit 2\ncp "$4" "{spool}/$2.pdf" && echo "request id is $2-1"\n')
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    person = with_records(POPULATION)[12]
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache", printer="lobby-receipt"))
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and app.screen.appointments is not None)
        await pilot.click("#walk-in-start")
        await wait_until(pilot, lambda: bool(app.screen.query(".department")))
        assert not app.screen.query(".complaint")
        await pilot.click("#department-1")
        await wait_until(pilot, lambda: isinstance(app.screen, SecondFactorDialog))
        await tap_digits(pilot, person.birth_date.strftime("%d%m%Y"))
        await wait_until(pilot, lambda: isinstance(app.screen, LobbyTicketScreen), within=15)
        screen = app.screen
        assert isinstance(screen, LobbyTicketScreen) and screen.ticket.queue_number.startswith("K02-")
        await wait_until(pilot, lambda: screen.printed is not None, within=20)
        assert screen.printed is True
        assert "Vui lòng nhận phiếu" in screen_words(app)
    printed = spool / "lobby-receipt.pdf"
    assert printed.read_bytes().startswith(b"%PDF")


async def test_scanning_the_card_again_buys_no_more_guesses(server: RunningSandbox, tmp_path: Path) -> None:
    person = booked_today(skip=13)
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):  # two sessions, each ended by three wrong answers
            await tap_check_in(app, pilot, person)
            for _ in range(3):
                await tap_digits(pilot, "01011900")
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog))
            await pilot.click("#ok")
            await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
        await pilot.click(".checkin")
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog | SecondFactorDialog))
        assert isinstance(app.screen, NoticeDialog), "a third scan was asked again"
        assert "Nhân viên tiếp đón sẽ hỗ trợ" in screen_words(app)
        appointments = await app.services.lookup.get().appointments_today(person.patient_id)
    assert appointments and all(a.status == "booked" for a in appointments)
