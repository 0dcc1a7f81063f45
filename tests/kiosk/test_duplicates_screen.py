"""The review of possible duplicates on the ER's admin console, driven by the pilot against the real sandbox: F8 opens
it, a scan of the cache finds the pairs, one pair is shown side by side (names as written, never as markup), "Same
person" reaches the server as one Linkage and "Not the same person" stays here, each saying so in the kiosk's
language, and a rescan offers neither again. Without a staff member signed in nothing can be decided."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable

from kiosk.app import KioskApp
from kiosk.i18n import Lang
from kiosk.screens.admin import AdminScreen
from kiosk.screens.duplicates import DuplicatesScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.duplicates import DecisionStatus, QueuedDuplicate
from lookup.domain.model import Demographics, Identifier, PatientRecord
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.ranking import query_keys, record_keys
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until
from tests.kiosk.test_words_on_screen import drawn, foreign_words
from tests.lookup.fhirserver import CCCD

POPULATION = 300
SIZE = (160, 50)
MARKUP = "[red]Trần[/red]"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def linkages(running: RunningSandbox) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{running.config.db_path}?mode=ro", uri=True) as conn:
        return [orjson.loads(row[0]) for row in conn.execute("SELECT json FROM linkages")]


def plant(app: KioskApp, records: list[PatientRecord]) -> None:
    """Keep patients in the app's cache as a lookup would (the checks at each lookup are the wiring's to switch on;
    the screen's scan finds the pairs either way)."""
    cache = app.services.cache.get()
    assert cache is not None
    store = OfflineStore(cache.records, clinical=True, record_keys=record_keys, query_keys=query_keys)
    for record in records:
        assert store.save(CachedPatient(patient=record))


def as_record(person: SyntheticPerson, patient_id: str | None = None) -> PatientRecord:
    number = Identifier(system=CCCD, value=person.cccd)
    return PatientRecord(id=patient_id or person.patient_id, identifiers=(number,), demographics=person.demographics())


def registered_twice(person: SyntheticPerson, other: SyntheticPerson) -> list[PatientRecord]:
    """`person` under their own record and again under `other`'s id, with `other`'s card number."""
    again = as_record(person, other.patient_id).model_copy(
        update={"identifiers": (Identifier(system=CCCD, value=other.cccd),)}
    )
    return [as_record(person), again]


def marked_up(first: SyntheticPerson, second: SyntheticPerson) -> list[PatientRecord]:
    """Two records whose name holds Textual markup, as a server might send it."""
    person = Demographics(family=MARKUP, middle="Văn", given="Nam", birth_date=first.birth_date, province="Hà Nội")
    return [PatientRecord(id=p.patient_id, demographics=person) for p in (first, second)]


def listed(screen: DuplicatesScreen) -> tuple[QueuedDuplicate, ...]:
    """The pairs the screen lists now (read afresh: the screen changes them as the test goes)."""
    return screen.shown


def status_of(screen: DuplicatesScreen) -> DecisionStatus | None:
    return screen.result.status if screen.result is not None else None


async def open_review(app: KioskApp, pilot: Pilot[None]) -> DuplicatesScreen:
    app.open_admin()
    await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
    await pilot.press("f8")
    await wait_until(pilot, lambda: isinstance(app.screen, DuplicatesScreen))
    screen = app.screen
    assert isinstance(screen, DuplicatesScreen)
    await wait_until(pilot, lambda: screen.query_one("#duplicates-note").render() != app.t("admin.loading"))
    return screen


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_review_pairs_side_by_side_and_decide(server: RunningSandbox, tmp_path: Path, lang: Lang) -> None:
    crowd = people(POPULATION)
    base = 40 if lang == "vi" else 60
    person, other, third, fourth = crowd[base], crowd[base + 1], crowd[base + 2], crowd[base + 3]
    before = len(linkages(server))
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", lang=lang))
    await sign_in(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        plant(app, [*registered_twice(person, other), *marked_up(third, fourth), as_record(crowd[base + 5])])
        screen = await open_review(app, pilot)
        assert len(listed(screen)) == 0
        await pilot.click("#scan")
        await wait_until(pilot, lambda: len(listed(screen)) == 2, within=20)
        assert app.t("duplicates.scanned", patients=5, pairs=2, new=2) in drawn(app)

        # One pair side by side: both names, birth dates, numbers and provinces, and why they were paired.
        table = screen.query_one("#duplicate-table", DataTable)
        twice = next(i for i, q in enumerate(listed(screen)) if q.pair.first.demographics.family != MARKUP)
        table.move_cursor(row=twice)
        await wait_until(pilot, lambda: screen.chosen is listed(screen)[twice])
        shown = drawn(app)
        for expected in (
            person.full_name,
            person.birth_date.strftime("%d/%m/%Y"),
            person.cccd,
            other.cccd,
            other.patient_id,
            person.demographics().province or "",
            app.t("duplicates.number-differs", kind="CCCD"),
            app.t("field.given"),
        ):
            assert expected in shown, f"{expected!r} is not on the screen"
        names = [person.full_name, *(p.full_name for p in (other, third, fourth))]
        words = shown
        for name in [*names, *person.full_name.split(), "Nam", "Văn", MARKUP, "Trần"]:
            words = words.replace(name, " ")
        assert not foreign_words(lang, words)

        await pilot.click("#same")
        await wait_until(pilot, lambda: screen.result is not None, within=20)
        assert status_of(screen) is DecisionStatus.SENT, screen.result
        assert app.t("duplicates.status.sent") in drawn(app)
        made = linkages(server)
        assert len(made) == before + 1
        assert {i["resource"]["reference"] for i in made[-1]["item"]} == {
            f"Patient/{person.patient_id}",
            f"Patient/{other.patient_id}",
        }

        # The other pair: its names shown as written, markup and all; not the same person stays here.
        await wait_until(pilot, lambda: len(listed(screen)) == 1)
        assert screen.chosen is listed(screen)[0] and MARKUP in drawn(app)
        await pilot.click("#different")
        await wait_until(pilot, lambda: len(listed(screen)) == 0 and status_of(screen) is not DecisionStatus.SENT)
        assert status_of(screen) is DecisionStatus.LOCAL
        assert app.t("duplicates.status.local") in drawn(app) and app.t("duplicates.none") in drawn(app)
        assert len(linkages(server)) == before + 1

        # A rescan finds both pairs again, and offers neither.
        await pilot.click("#scan")
        await wait_until(pilot, lambda: app.t("duplicates.scanned", patients=5, pairs=2, new=0) in drawn(app))
        assert len(listed(screen)) == 0


async def test_nobody_decides_without_a_staff_member_signed_in(server: RunningSandbox, tmp_path: Path) -> None:
    crowd = people(POPULATION)
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", lang="en"))
    async with app.run_test(size=SIZE) as pilot:
        plant(app, registered_twice(crowd[80], crowd[81]))
        screen = await open_review(app, pilot)
        await pilot.click("#scan")
        await wait_until(pilot, lambda: len(listed(screen)) == 1, within=20)
        assert screen.query_one("#same", Button).disabled and screen.query_one("#different", Button).disabled
        assert app.t("duplicates.sign-in") in drawn(app)


async def test_the_review_is_the_er_s_only(server: RunningSandbox, tmp_path: Path) -> None:
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache", lang="en"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        app.open_admin()
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        assert not app.screen.query("#duplicates")
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, AdminScreen)
