"""Two kiosk apps of one hospital: the ER desk looks a patient up, the second desk, with the coordination server
gone, signs its nurse in and opens the same patient from the shared cache; the admin screen names the shared cache."""

from __future__ import annotations

from pathlib import Path

from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode, load_settings
from kiosk.wiring import build_app, close_services
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import settings_for, sign_in, wait_until, wedge_scan
from tests.hospital.conftest import Hospital
from tests.kiosk.test_flows import screen_text
from tests.reliability.conftest import consenting_people

SIZE = (120, 40)


async def test_the_second_desk_opens_the_patient_from_the_shared_cache_with_the_server_gone(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    person = consenting_people(8)[7]
    shared = {"cache_url": hospital.cache_url, "hospital_key_file": hospital.key_file}
    first = build_app(settings_for(coordination, Mode.ER, tmp_path / "desk-a", kiosk_name="er-a", **shared))
    await sign_in(first)
    try:
        async with first.run_test(size=SIZE) as pilot:
            wedge_scan(first, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(first.screen, SummaryScreen), within=15)
            await pilot.press("ctrl+n", "f3", "f9")
            await wait_until(pilot, lambda: "Hospital shared cache" in screen_text(first))
            text = screen_text(first)
            assert "connected · postgresql database kiosk_cache on 127.0.0.1" in text
            assert hospital.cache_url.split("@")[0] not in text, "never the user or the password"
    finally:
        close_services(first.services)

    second = build_app(
        load_settings(
            server="http://127.0.0.1:9/fhir",
            client_id="demo-er",
            client_secret="demo-er",
            trust_list=coordination.trust_list_path,
            mode=Mode.ER,
            cache_dir=tmp_path / "desk-b",
            cache_key_file=tmp_path / "desk-b.key",
            audit_journal_dir=tmp_path / "desk-b-journal",
            config_file=None,
            kiosk_name="er-b",
            **shared,
        )
    )
    # The nurse signed in at the first desk: the second verifies her PIN offline, from the hospital's cache.
    await sign_in(second)
    try:
        async with second.run_test(size=SIZE) as pilot:
            wedge_scan(second, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(second.screen, SummaryScreen), within=15)
            assert isinstance(second.screen, SummaryScreen)
            assert second.screen.patient.id == person.patient_id
    finally:
        close_services(second.services)
