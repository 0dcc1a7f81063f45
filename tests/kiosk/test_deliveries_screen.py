"""The admin console's deliveries screen, driven by Textual's pilot in the real app against the sandbox: F9, then F7
lists every message of the outbox in its delivery state (the delivered one with the server's receipt), the state and
text filters narrow the list, and Export CSV writes what is listed to the print folder."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select

from kiosk.i18n import Lang
from kiosk.screens.admin import AdminScreen
from kiosk.screens.deliveries import DeliveriesScreen
from kiosk.settings import Mode, Settings
from kiosk.wiring import build_app
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import DeliveryState, OfflineCache, RetryPolicy
from sandbox.server.runner import RunningSandbox
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until
from tests.kiosk.test_words_on_screen import drawn, foreign_words

POPULATION = 30
SIZE = (170, 50)
NAME = "Trần Thị Bích Ngọc"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


async def _fill(server: RunningSandbox, settings: Settings, here: str = "er-desk-1", there: str = "reception-2") -> str:
    """The kiosk's cache with one message in each delivery state: an audit event the sandbox took (its receipt), an
    arrival being retried, a registration given up, a link on its way; the id of the audit event."""
    key_file = settings.cache_key_file
    assert key_file is not None
    policy = RetryPolicy(base_delay=3600, lease_seconds=3600)  # nothing here comes due while the test runs
    with OfflineCache.open(settings.cache_dir, key_file=key_file, ttl_seconds=3600, retry=policy) as cache:
        config = ServerConfig(base_url=server.base_url, client_id="demo-er", client_secret="demo-er")
        service = LookupService(
            config,
            trust=TrustList.load(server.trust_list_path),
            cache=cache.records,
            outbox=cache.outbox,
            kiosk_name=here,
        )
        try:
            service.writer.audit("open", "success", people(POPULATION)[0].patient_id)
            assert await service.flush_outbox() == 1
        finally:
            await service.aclose()
        (delivered,) = cache.outbox.entries()
        assert delivered.server_id is not None
        outbox = cache.outbox
        outbox.append("check-in", "check-in:a1", b"{}", kiosk=there)
        outbox.fail(outbox.claim(key="check-in:a1")[0].id, "the server failed (HTTP 500)")
        outbox.append("registration", "register:TMP123456782", f'{{"name": "{NAME}"}}'.encode(), kiosk=here)
        outbox.fail(
            outbox.claim(key="register:TMP123456782")[0].id, "the server did not answer within 5 s", retry=False
        )
        outbox.append("link", "link:1", b"{}", kiosk=here)
        outbox.claim(key="link:1")
        return delivered.server_id


def _cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(row)] for row in range(table.row_count)]


async def test_the_console_lists_filters_and_exports_the_deliveries(server: RunningSandbox) -> None:
    with tempfile.TemporaryDirectory() as folder:
        prints = Path(folder) / "prints"
        settings = settings_for(server, Mode.ER, Path(folder) / "cache", lang="en", print_dir=prints)
        receipt = await _fill(server, settings)
        app = build_app(settings)
        await sign_in(app)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("f9")
            await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
            await pilot.press("f7")
            await wait_until(pilot, lambda: isinstance(app.screen, DeliveriesScreen) and len(app.screen.shown) == 4)
            screen = app.screen
            assert isinstance(screen, DeliveriesScreen)
            table = screen.query_one("#delivery-table", DataTable)
            rows = _cells(table)
            assert [row[3] for row in rows] == ["sent", "given up", "retrying", "delivered"], "newest first"
            delivered = rows[3]
            assert delivered[1] == "er-desk-1" and delivered[2] == "audit event" and delivered[6] == receipt
            assert dt.datetime.strptime(delivered[5], "%d/%m/%Y %H:%M:%S").year == dt.date.today().year
            # Faults in the reader's words, the outbox keeping them as the kiosk wrote them.
            assert rows[2][1:3] == ["reception-2", "arrival"] and rows[2][7] == app.t("fault.server-error")
            assert rows[1][2] == "unidentified patient" and rows[1][7] == app.t("fault.timeout")
            assert not any(NAME in cell or "Ngọc" in cell for row in rows for cell in row)

            screen.query_one("#state", Select).value = DeliveryState.GIVEN_UP
            await wait_until(pilot, lambda: [i.kind for i in screen.shown] == ["registration"])
            screen.query_one("#state", Select).clear()
            await wait_until(pilot, lambda: len(screen.shown) == 4)
            await pilot.click("#search")
            await pilot.press(*"500")
            await wait_until(pilot, lambda: [i.kind for i in screen.shown] == ["check-in"])
            assert table.row_count == 1

            await pilot.click("#export")
            await wait_until(pilot, lambda: any(prints.glob("deliveries-*.csv")))
            (exported,) = prints.glob("deliveries-*.csv")
            assert exported.stat().st_mode & 0o777 == 0o600
            with exported.open(encoding="utf-8", newline="") as handle:
                written = list(csv.DictReader(handle))
            assert [(r["kind"], r["state"], r["kiosk"], r["reason"]) for r in written] == [
                ("check-in", "retrying", "reception-2", "the server failed (HTTP 500)")
            ]
            said = f"1 messages saved to {exported}"
            await wait_until(pilot, lambda: any(n.message == said for n in app._notifications))


async def test_the_deliveries_screen_speaks_the_clerks_language(server: RunningSandbox) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # Kiosk names of no language, so every word on screen is the catalogue's.
        settings = settings_for(server, Mode.ER, Path(folder) / "cache", lang="vi", print_dir=Path(folder) / "p")
        await _fill(server, settings, here="cc-01", there="tt-02")
        app = build_app(settings)
        await sign_in(app)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f9")
            await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
            await pilot.press("f7")
            languages: tuple[tuple[Lang, str], ...] = (("vi", "đang gửi lại"), ("en", "retrying"))
            for lang, said in languages:
                await wait_until(pilot, lambda said=said: said in drawn(app))  # type: ignore[misc]
                assert "tt-02" in drawn(app) and foreign_words(lang, drawn(app)) == set(), lang
                await pilot.press("f3")  # the other language, keeping the screen and its list
