"""The reception desk and the lobby's self check-in: the first check-in has the focus as soon as the appointments
are shown (Enter checks in) and each check-in button sits on its appointment's row; a walk-in without an
appointment chooses a chief complaint (reception only) and a department and is shown its queue number and room in
large type; a checked-in appointment shows its queue number too."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from textual.widgets import Button, Digits, Static

from kiosk.app import KioskApp
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.clinical import events
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import SEED, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records

POPULATION = 400
SIZE = (120, 40)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def booked_today(skip: int = 0) -> SyntheticPerson:
    """Someone the sandbox booked for today who has not arrived yet."""
    found = []
    for person in with_records(POPULATION):
        province = OLD_PROVINCES_BY_NAME[person.card_province].current_code
        if any(a.day == 0 and a.status == "booked" for a in events(person.index, SEED, province).appointments):
            found.append(person)
    return found[skip]


async def test_enter_checks_in_the_first_appointment_beside_its_row(server: RunningSandbox, tmp_path: Path) -> None:
    person = booked_today(skip=5)
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
        first = app.screen.query(".checkin").results(Button).__next__()
        assert app.focused is first, f"the focus is on {app.focused!r}, not the first check-in"
        row = first.parent
        assert row is not None and "appointment" in row.classes
        what = row.query_one(".what")
        assert first.region.y <= what.region.y < first.region.bottom, "the button is on its appointment's row"
        assert abs(what.region.x - first.region.right) <= 2, "the button is right beside the appointment"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.screen.query(".checkin-result")))
        assert "Đã xác nhận" in str(app.screen.query_one(".checkin-result", Static).render())


def screen_words(app: KioskApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def shown_ticket(app: KioskApp) -> tuple[str, str]:
    """The queue number and room the screen shows (`Số K03-014 · Phòng 301 · ...`)."""
    found = re.search(r"(K0\d-\d{3}) · (Phòng \d+)", screen_words(app))
    assert found is not None, "no queue number and room on screen"
    return found.group(1), found.group(2)


async def test_a_walk_in_at_reception_gets_a_queue_number_and_room(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[7]
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and app.screen.appointments is not None)
        await pilot.click("#walk-in-start")
        await wait_until(pilot, lambda: bool(app.screen.query(".department")))
        await pilot.click("#complaint-fever")
        await pilot.pause()
        assert app.focused is not None and "department" in app.focused.classes  # the next choice has the focus
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.screen.query("#ticket")))
        number, room = shown_ticket(app)
        assert "Số thứ tự" in screen_words(app) and room.startswith("Phòng")
        assert number[1:] == str(app.screen.query_one(".ticket-digits", Digits).value)  # in large type


async def test_the_lobby_walk_in_asks_no_complaint(server: RunningSandbox, tmp_path: Path) -> None:
    person = with_records(POPULATION)[8]
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and app.screen.appointments is not None)
        await pilot.click("#walk-in-start")
        await wait_until(pilot, lambda: bool(app.screen.query(".department")))
        assert not app.screen.query(".complaint")
        await pilot.click("#department-1")
        # The lobby acts on someone's behalf only after the second factor (tests/kiosk/test_lobby_check_in.py).
        await wait_until(pilot, lambda: bool(app.screen.query("#answer")))
        for digit in person.birth_date.strftime("%d%m%Y"):
            await pilot.click(f"#key-{digit}")
        await pilot.click("#key-ok")
        await wait_until(pilot, lambda: bool(app.screen.query("#ticket")))
        assert shown_ticket(app)[0].startswith("K02-")


async def test_an_appointment_check_in_shows_its_queue_number(server: RunningSandbox, tmp_path: Path) -> None:
    person = booked_today(skip=6)
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and bool(app.screen.query(".checkin")))
        await pilot.click(".checkin")
        await wait_until(pilot, lambda: bool(app.screen.query("#ticket")))
        assert shown_ticket(app)[1].startswith("Phòng")


async def test_an_offline_walk_in_waits_in_the_outbox_and_the_desk_gives_the_number(tmp_path: Path) -> None:
    person = with_records(POPULATION)[9]
    with sandbox(POPULATION) as running:
        app = build_app(settings_for(running, Mode.RECEPTION, tmp_path / "cache"))
        await sign_in(app)
        async with app.run_test(size=SIZE) as pilot:
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(
                pilot, lambda: isinstance(app.screen, VisitScreen) and app.screen.appointments is not None, within=20
            )
            await pilot.click("#walk-in-start")
            await wait_until(pilot, lambda: bool(app.screen.query(".department")))
            running.stop()
            await pilot.click("#department-0")
            await wait_until(pilot, lambda: bool(app.screen.query("#walk-in-queued")), within=20)
            assert "phát tại quầy" in screen_words(app)
            assert (await app.services.lookup.get().status()).outbox_queued >= 1


async def test_a_reception_walk_in_prints_its_ticket_on_the_desk_printer(
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
    person = with_records(POPULATION)[8]
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache", printer="desk-receipt"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, VisitScreen) and app.screen.appointments is not None)
        await pilot.click("#walk-in-start")
        await wait_until(pilot, lambda: bool(app.screen.query(".department")))
        await pilot.click("#complaint-fever")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.screen.query("#ticket")))
        number, _room = shown_ticket(app)
        printed = spool / "desk-receipt.pdf"
        await wait_until(pilot, printed.exists, within=20)
    text = "".join(page.extract_text() for page in PdfReader(printed).pages)
    assert number in text, "the printed ticket carries the number on screen"
