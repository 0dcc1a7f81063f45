"""Linking a temporary identity to the real patient in the ER, driven by the pilot against the real sandbox: the
temporary patient's summary offers the link; the real person is found by scanning their card; a dialog shows both
identities side by side and links only on confirm; the real patient's summary then says it was reached through the
temporary number and shows the history; Undo (confirmed too) restores the temporary identity. Both languages,
without a word of the other."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.dialogs.link_identity import LinkIdentityDialog
from kiosk.dialogs.notice import NoticeDialog
from kiosk.i18n import Lang
from kiosk.screens.search import SearchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.model import Sex
from lookup.domain.temporary import UnknownArrival, printed_number, temporary_alias
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from tests.kiosk.test_words_on_screen import drawn, foreign_words

POPULATION = 300
SIZE = (160, 50)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def summary_of(app: KioskApp, patient_id: str | None = None, *, through: str | None = None) -> bool:
    screen = app.screen
    return (
        isinstance(screen, SummaryScreen)
        and (patient_id is None or screen.patient.id == patient_id)
        and screen.outcome.reached_through == through
        and screen.history is not None
    )


async def opened(app: KioskApp, pilot: Pilot[None], done: Callable[[], bool]) -> None:
    """Wait for `done`: the temporary record and the consenting real patient both open without breaking the glass."""
    await wait_until(pilot, lambda: done() or isinstance(app.screen, BreakGlassDialog), within=20)
    assert not isinstance(app.screen, BreakGlassDialog), "opening asked to break the glass"


def words_of(app: KioskApp, alias: str) -> str:
    """What the screen shows, the temporary alias (data, in Vietnamese whatever the language) left out."""
    return drawn(app).replace(alias, " ")


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_link_a_temporary_patient_to_the_real_one_and_undo(
    server: RunningSandbox, tmp_path: Path, lang: Lang
) -> None:
    real = with_records(POPULATION)[11 if lang == "vi" else 12]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", lang=lang))
    await sign_in(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        service = app.services.lookup.get()
        arrival = UnknownArrival(sex=Sex.MALE, estimated_age=40, arrival=dt.datetime.now(dt.UTC))
        temporary = await service.register_unknown(arrival)
        assert temporary.status == "created" and temporary.patient_id is not None
        number, alias = temporary.number, temporary_alias(temporary.number)

        # The temporary patient opens by its wristband number, and offers the link.
        wedge_scan(app, printed_number(number))
        await opened(app, pilot, lambda: summary_of(app, temporary.patient_id))
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.temporary == number
        assert not screen.query("#unlink") and not screen.query("#reached-through")
        assert str(screen.query_one("#link", Button).label) == app.t("link.button")
        assert not foreign_words(lang, words_of(app, alias))

        # Ctrl+L: the real person is looked up the normal way (here by scanning their card), then confirmed.
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        wedge_scan(app, cccd_qr_text(real))
        await wait_until(pilot, lambda: isinstance(app.screen, LinkIdentityDialog), within=20)
        shown = drawn(app)
        for expected in (
            alias,
            printed_number(number),
            real.full_name,
            real.birth_date.strftime("%d/%m/%Y"),
            real.cccd,
        ):
            assert expected in shown, f"{expected!r} is not in the confirmation"
        assert not foreign_words(lang, words_of(app, alias))
        assert (await service.identity_history(number)) == (), "nothing is linked before the confirmation"
        await pilot.click("#confirm")

        # The real patient, reached through the temporary number, with the history and an undo.
        await wait_until(pilot, lambda: summary_of(app, through=number), within=20)
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.patient.id != temporary.patient_id
        assert real.cccd in {i.value for i in screen.patient.identifiers}
        assert screen.history is not None and [h.action for h in screen.history] == ["linked"]
        shown = drawn(app)
        assert app.t("link.reached-through", number=printed_number(number)) in shown
        assert app.t("link.history.title") in shown and "nurse-lan" in shown
        assert not screen.query("#link") and screen.query_one("#unlink", Button).display
        # The real patient's records are the server's data (Vietnamese in either language): the words checked are
        # the screen's own about the link.
        linked = [screen.query_one(f"#{name}") for name in ("reached-through", "identity-history", "unlink")]
        assert not foreign_words(lang, "\n".join(str(widget.render()) for widget in linked))

        # The same note whenever the temporary number is opened again.
        await pilot.press("ctrl+n")
        wedge_scan(app, number)
        real_id = screen.patient.id
        await wait_until(pilot, lambda: summary_of(app, real_id, through=number), within=20)
        assert app.t("link.reached-through", number=printed_number(number)) in drawn(app)

        # Undo, confirmed: the temporary identity again, its history saying linked then unlinked.
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkIdentityDialog))
        assert alias in drawn(app) and real.full_name in drawn(app)
        await pilot.click("#confirm")
        await opened(
            app, pilot, lambda: summary_of(app, temporary.patient_id) and len(getattr(app.screen, "history", ())) == 2
        )
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.temporary == number
        assert screen.history is not None and [h.action for h in screen.history] == ["linked", "unlinked"]
        assert screen.query_one("#link", Button).display and not screen.query("#reached-through")
        assert not foreign_words(lang, words_of(app, alias))


async def test_a_cancelled_link_changes_nothing(server: RunningSandbox, tmp_path: Path) -> None:
    real = with_records(POPULATION)[13]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        service = app.services.lookup.get()
        temporary = await service.register_unknown(UnknownArrival(arrival=dt.datetime.now(dt.UTC)))
        wedge_scan(app, temporary.number)
        await opened(app, pilot, lambda: summary_of(app, temporary.patient_id))
        await pilot.click("#link")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        wedge_scan(app, cccd_qr_text(real))
        await wait_until(pilot, lambda: isinstance(app.screen, LinkIdentityDialog), within=20)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, LinkIdentityDialog))
        assert (await service.identity_history(temporary.number)) == ()
        found = await service.temporary_patient(temporary.number)
        assert found is not None and found.patient_id == temporary.patient_id


async def test_linking_without_the_server_is_a_notice_not_a_traceback(tmp_path: Path) -> None:
    real = with_records(POPULATION)[14]
    with sandbox(POPULATION) as running:
        app = build_app(settings_for(running, Mode.ER, tmp_path / "cache"))
        await sign_in(app)
        async with app.run_test(size=SIZE) as pilot:
            service = app.services.lookup.get()
            temporary = await service.register_unknown(UnknownArrival(arrival=dt.datetime.now(dt.UTC)))
            wedge_scan(app, temporary.number)
            await opened(app, pilot, lambda: summary_of(app, temporary.patient_id))
            await pilot.press("ctrl+l")
            await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
            wedge_scan(app, cccd_qr_text(real))
            await wait_until(pilot, lambda: isinstance(app.screen, LinkIdentityDialog), within=20)
            running.stop()
            await pilot.click("#confirm")
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=30)
            # The decision waits in the outbox for the server, and the notice says so.
            assert str(app.screen.query_one("#notice-body").render()) == app.t("link.queued.body")
            assert "Traceback" not in drawn(app)
            assert app.faults == []
            cache = app.services.cache.get()
            assert cache is not None
            (waiting,) = cache.outbox.entries(kind="link")
            assert waiting.delivery == "retrying" and waiting.reason is not None and waiting.server_id is None


async def test_leaving_the_search_for_the_real_person_stops_the_linking(server: RunningSandbox, tmp_path: Path) -> None:
    real = with_records(POPULATION)[15]
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        service = app.services.lookup.get()
        temporary = await service.register_unknown(UnknownArrival(arrival=dt.datetime.now(dt.UTC)))
        wedge_scan(app, temporary.number)
        await opened(app, pilot, lambda: summary_of(app, temporary.patient_id))
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1)
        wedge_scan(app, cccd_qr_text(real))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen) and real.cccd in drawn(app), within=20)
        assert not app.screen.query("#link")
        assert (await service.identity_history(temporary.number)) == ()
