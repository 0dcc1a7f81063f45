"""What the lobby and reception screens may say about a visit: the lobby shows appointments as time, place and
department only, and reception shows a diagnosis only for a patient who consents to sharing, whatever the kiosk
kept in its cache (another kiosk's copy on the same cache, or one kept before the consent was withdrawn).

Each patient's conditions are taken from the sandbox's own synthetic history, and the whole screen is searched for
them. The appointment path is failed at a proxy (HTTP 500) to make the kiosk read its cache, as a hospital network
may at any time.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

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
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy

POPULATION = 400
SIZE = (120, 40)
PATIENTS = 4


def whole_screen(app: KioskApp) -> str:
    """Every text on the current screen (buttons and tables included), as plain text."""
    console = Console(file=io.StringIO(), width=240, record=True, color_system=None)
    for widget in app.screen.query(Static):
        console.print(str(widget.render()), markup=False)
    return console.export_text()


def diagnoses_of(person: SyntheticPerson) -> set[str]:
    """The person's conditions, as the sandbox names them (the words that must not reach the screen)."""
    province = OLD_PROVINCES_BY_NAME[person.card_province].current_code
    plan = events(person.index, SEED, province)
    return {c.display for c in plan.conditions} | {a.condition.display for a in plan.appointments}


def leaked(app: KioskApp, person: SyntheticPerson) -> set[str]:
    text = whole_screen(app).casefold()
    return {d for d in diagnoses_of(person) if d.casefold() in text}


def booked_today(running: RunningSandbox, *, consented: bool, count: int) -> list[SyntheticPerson]:
    """People the sandbox booked for today (still to arrive), with (or without) consent to share."""
    found = []
    for person in with_records(POPULATION, consented=consented):
        province = OLD_PROVINCES_BY_NAME[person.card_province].current_code
        if any(a.day == 0 and a.status == "booked" for a in events(person.index, SEED, province).appointments):
            found.append(person)
        if len(found) == count:
            return found
    raise AssertionError("too few people booked today in the test population")


async def open_visit(app: KioskApp, pilot: object, person: SyntheticPerson) -> None:
    await pilot.press("ctrl+n")  # type: ignore[attr-defined]
    wedge_scan(app, cccd_qr_text(person))

    def shown() -> bool:
        screen = app.screen
        return (
            isinstance(screen, VisitScreen)
            and screen.patient.id == person.patient_id
            and bool(screen.appointments)
            and bool(screen.query(".appointment"))
        )

    await wait_until(pilot, shown, within=20)  # type: ignore[arg-type]


async def test_the_lobby_screen_shows_no_diagnosis(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with sandbox(POPULATION) as running, FaultProxy(f"http://127.0.0.1:{running.port}") as proxy:
        crowd = booked_today(running, consented=True, count=PATIENTS)
        through_proxy = {"server": proxy.base_url("/fhir")}

        def kiosk(mode: Mode) -> KioskApp:
            return build_app(settings_for(running, mode, cache).model_copy(update=through_proxy))

        # A reception desk on the same cache sees them first (they consented: their appointments' titles name
        # the diagnosis, and that copy is kept for offline check-in).
        desk = kiosk(Mode.RECEPTION)
        await sign_in(desk)
        async with desk.run_test(size=SIZE) as pilot:
            for person in crowd:
                await open_visit(desk, pilot, person)
                assert leaked(desk, person), "reception shows a consenting patient's appointment title"
        lobby = kiosk(Mode.LOBBY)
        departments: list[bool] = []
        async with lobby.run_test(size=SIZE) as pilot:
            proxy.plan = FaultPlan(Fault.STATUS, path_contains="Appointment", status=500)
            for person in crowd:
                await open_visit(lobby, pilot, person)
                assert not leaked(lobby, person), "a diagnosis on the lobby screen (from the cache)"
            proxy.plan = None
            for person in crowd:
                await open_visit(lobby, pilot, person)
                assert not leaked(lobby, person), "a diagnosis on the lobby screen (from the server)"
                departments.append("Khoa" in whole_screen(lobby))
        assert all(departments), "the lobby shows each appointment's department"


async def test_reception_shows_no_diagnosis_without_consent(tmp_path: Path) -> None:
    with sandbox(POPULATION) as running, FaultProxy(f"http://127.0.0.1:{running.port}") as proxy:
        refusing = booked_today(running, consented=False, count=2)
        withdrawing = booked_today(running, consented=True, count=1)[0]
        settings = settings_for(running, Mode.RECEPTION, tmp_path / "cache")
        app = build_app(settings.model_copy(update={"server": proxy.base_url("/fhir")}))
        await sign_in(app)
        async with app.run_test(size=SIZE) as pilot:
            for person in refusing:
                await open_visit(app, pilot, person)
                assert not leaked(app, person), "a diagnosis of a patient without consent at reception"
            await open_visit(app, pilot, withdrawing)
            assert leaked(app, withdrawing), "reception shows a consenting patient's diagnosis"
            # The patient withdraws consent at the national system; the kiosk's cache still holds the old copy.
            with sqlite3.connect(running.config.db_path) as db:
                db.execute("UPDATE patients SET consent = 0 WHERE id = ?", (withdrawing.patient_id,))
            proxy.plan = FaultPlan(Fault.STATUS, path_contains="Appointment", status=500)
            await open_visit(app, pilot, withdrawing)
            assert not leaked(app, withdrawing), "a cached diagnosis shown after consent was withdrawn"
