"""Identification without a wrong guess: a number on no record says so first, candidates only above a floor with
scores a clerk reads, tall rows for a finger, and a break-glass dialog that names the patient and never cancels by
Tab then Enter. Real sandbox, the real app through its pilot, the real `kiosk lookup --json` process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.widgets import DataTable, Input, Static

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.search import SearchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.model import Demographics, MatchGrade, PatientRecord
from lookup.service.ranking import rank_records
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from testkit.server import STAFF_PINS

POPULATION = 400
SIZE = (120, 40)
NOT_FOUND_VI = "Không tìm thấy ai mang mã này"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def screen_text(app: KioskApp) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    for widget in app.screen.query(Static):
        content = widget.content
        console.print(content if isinstance(content, str | Text | Table) else str(content), markup=False)
    for table in app.screen.query(DataTable):
        for row in range(table.row_count):
            console.print(" ".join(str(c) for c in table.get_row_at(row)), markup=False)
    return console.export_text()


def card_of_nobody(person: SyntheticPerson) -> str:
    """This person's card text with an ID number that is on no record (same shape, another serial)."""
    taken = {p.cccd for p in people(POPULATION)}
    number = next(n for n in (person.cccd[:6] + f"{s:06d}" for s in range(999_999, 0, -1)) if n not in taken)
    return cccd_qr_text(person).replace(person.cccd, number, 1)


def kiosk_json(server: RunningSandbox, tmp_path: Path, *args: str, stdin: str | None = None) -> dict[str, Any]:
    env = {
        **os.environ,
        "KIOSK_SERVER": server.base_url,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_STAFF_ID": "nurse-lan",
        "KIOSK_STAFF_PIN": STAFF_PINS["nurse-lan"],
        "KIOSK_TRUST_LIST": str(server.trust_list_path),
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(tmp_path / "cache.key"),
        "KIOSK_AUDIT_JOURNAL_DIR": str(tmp_path / "journal"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_MODE": "er",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "lookup", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=stdin,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    return data


# -- a number on no record --------------------------------------------------------------------------------------


async def test_unknown_number_says_so_first_and_offers_the_search(server: RunningSandbox, tmp_path: Path) -> None:
    person = people(POPULATION)[7]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, card_of_nobody(person))
        await wait_until(pilot, lambda: not isinstance(app.screen, WaitingScreen), within=15)
        await pilot.pause()
        assert not isinstance(app.screen, CandidatesScreen | SummaryScreen), "a search ran without being asked for"
        assert NOT_FOUND_VI in screen_text(app)
        await pilot.click("#search-card")
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen | SummaryScreen | BreakGlassDialog), 15)
        if isinstance(app.screen, CandidatesScreen):
            assert person.patient_id in [c.patient.id for c in app.screen.candidates]


def test_unknown_number_ends_not_found_in_json(server: RunningSandbox, tmp_path: Path) -> None:
    person = people(POPULATION)[8]
    data = kiosk_json(server, tmp_path, "--qr-text-file", "-", stdin=card_of_nobody(person))
    assert data["status"] == "not-found" and data["candidates"] == []
    assert data["fallback"]["given"] == person.given and "searched" in data["message"]


# -- candidates above a floor -----------------------------------------------------------------------------------


async def test_no_candidate_reads_zero_and_rows_are_tall(server: RunningSandbox, tmp_path: Path) -> None:
    person = people(POPULATION)[11]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        app.screen.query_one("#family", Input).value = person.family
        app.screen.query_one("#given", Input).value = person.given
        app.screen.query_one("#birth", Input).value = str(person.birth_date.year)
        app.screen.query_one("#family", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen | SummaryScreen), within=15)
        screen = app.screen
        assert isinstance(screen, CandidatesScreen)
        assert all(round(c.score, 2) > 0 for c in screen.candidates), [c.score for c in screen.candidates]
        assert len(screen.candidates) < 10, "the list is never padded"
        text = screen_text(app)
        assert "0.00" not in text and " 0 %" not in text
        # A browser cell is 17-19 px tall (textual-serve's default font): 3 cells make a 48 px touch target.
        table = screen.query_one(DataTable)
        assert all(row.height >= 3 for row in table.rows.values())
        # The keyboard still chooses: down moves one person, Enter opens that one.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen | BreakGlassDialog), within=15)


def test_json_returns_no_candidate_under_the_floor(server: RunningSandbox, tmp_path: Path) -> None:
    person = people(POPULATION)[12]
    data = kiosk_json(
        server,
        tmp_path,
        "--family",
        person.family,
        "--given",
        person.given,
        "--birth-year",
        str(person.birth_date.year),
    )
    scores = [c["score"] for c in data["candidates"]]
    assert all(round(s, 2) > 0 for s in scores), scores


def test_an_exact_name_and_year_is_at_least_probable_among_a_nation() -> None:
    """The root cause of "an exact name-and-year match scored 0.09": graded against a national population, a common
    name's odds fell under the `probable` bar although every field given agreed."""
    crowd = people(60)
    records = [PatientRecord(id=p.patient_id, demographics=p.demographics()) for p in crowd]
    for person in crowd[:10]:
        query = Demographics(
            family=person.family, middle=person.middle, given=person.given, birth_year=person.birth_date.year
        )
        ranked = rank_records(query, records, 1_000_000)
        mine = next(c for c in ranked if c.patient.id == person.patient_id)
        assert mine.grade in (MatchGrade.PROBABLE, MatchGrade.CERTAIN), (mine.score, mine.grade)


# -- break-glass ------------------------------------------------------------------------------------------------


async def _break_glass_dialog(server: RunningSandbox, tmp_path: Path, n: int) -> tuple[KioskApp, SyntheticPerson]:
    person = with_records(POPULATION, consented=False)[n]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    return app, person


async def test_break_glass_names_the_patient_with_two_identifiers(server: RunningSandbox, tmp_path: Path) -> None:
    app, person = await _break_glass_dialog(server, tmp_path, 4)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog), within=15)
        text = screen_text(app)
        assert person.full_name in text, "the dialog names the patient"
        assert f"{person.birth_date:%d/%m/%Y}" in text and person.cccd in text, "with a birth date and an ID number"


async def test_break_glass_tab_then_enter_never_cancels(server: RunningSandbox, tmp_path: Path) -> None:
    app, person = await _break_glass_dialog(server, tmp_path, 5)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog), within=15)
        await pilot.press("x", "tab", "enter")
        assert isinstance(app.screen, BreakGlassDialog), "Tab then Enter cancelled the break-glass silently"
        assert "8" in str(app.screen.query_one("#reason-error", Static).content), "the short reason is explained"
        await pilot.press(*"unconscious", "enter")  # the focus went back to the reason
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=15)


async def test_break_glass_error_clears_once_the_reason_is_valid(server: RunningSandbox, tmp_path: Path) -> None:
    app, person = await _break_glass_dialog(server, tmp_path, 6)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog), within=15)
        await pilot.press("x", "enter")
        error = app.screen.query_one("#reason-error", Static)
        assert "8" in str(error.content)
        await pilot.press(*"unconscious")
        await pilot.pause()
        assert str(error.content) == "", "the error stays after a valid reason"
