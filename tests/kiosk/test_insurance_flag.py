"""The insurance card's validity at reception, driven by the pilot against the real sandbox: a scanned BHYT card's
validity (the gateway's answer over the card's own dates) is shown on the check-in screen before the check-in
button, an expired card flagged in red and one expiring within 30 days in amber; check-in stays possible and the flag
is repeated beside the queue ticket. Both languages, without a word of the other. The sandbox gateway's synthetic
rule (`sandbox/server/routes_eligibility.py`): a card number ending in 0 expired last year, one ending in 1 expires
in 14 days."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button

from kiosk.app import KioskApp
from kiosk.i18n import Lang
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.model import Sex
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from tests.kiosk.test_words_on_screen import foreign_words

POPULATION = 300
SIZE = (160, 50)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def holder(last_digit: str, skip: int = 0) -> SyntheticPerson:
    """Someone whose insurance number ends in `last_digit`."""
    return [p for p in with_records(POPULATION) if p.bhxh.endswith(last_digit)][skip]


def bhyt_qr_text(person: SyntheticPerson) -> str:
    """The QR of the person's new-style BHYT card (the 10-digit insurance number as card number), which says it is
    valid from 2024 with no end date: only the gateway knows better."""
    sex = "1" if person.sex is Sex.MALE else "2"
    name = person.full_name.encode("utf-8").hex()
    return f"{person.bhxh}|{name}|{person.birth_date:%d/%m/%Y}|{sex}|-|79 - 001|01/01/2024|-|01/01/2024|$"


def gateway_answered(app: KioskApp) -> bool:
    screen = app.screen
    return (
        isinstance(screen, VisitScreen)
        and screen.insurance is not None
        and screen.insurance.source == "gateway"
        and screen.appointments is not None
    )


def insurance_words(app: KioskApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query("#insurance > *"))


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_an_expired_card_is_flagged_in_red_before_check_in_and_on_the_ticket(
    server: RunningSandbox, tmp_path: Path, lang: Lang
) -> None:
    person = holder("0", skip=0 if lang == "vi" else 1)
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache", lang=lang))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, bhyt_qr_text(person))
        await wait_until(pilot, lambda: gateway_answered(app), within=20)
        screen = app.screen
        assert isinstance(screen, VisitScreen)
        state = screen.query_one("#insurance-state")
        assert str(state.render()) == app.t("insurance.state.expired") and "-danger" in state.classes
        words = insurance_words(app)
        assert person.bhxh in words and app.t("insurance.source.gateway") in words
        assert app.t("insurance.level", level=screen.insurance.benefit_level if screen.insurance else 0) in words
        assert not foreign_words(lang, words)
        # Before the check-in: above the appointments and the walk-in button, which stays usable.
        start = screen.query_one("#walk-in-start", Button)
        assert state.region.y < screen.query_one("#appointments").region.y and not start.disabled
        await pilot.click("#walk-in-start")
        await wait_until(pilot, lambda: bool(app.screen.query(".department")))
        await pilot.click("#complaint-fever")
        await pilot.pause()
        await pilot.press("enter")  # the first department has the focus once a complaint is chosen
        await wait_until(pilot, lambda: bool(app.screen.query("#ticket")), within=20)
        flag = app.screen.query_one("#ticket-insurance")
        expected = app.t("insurance.ticket", card=person.bhxh, state=app.t("insurance.state.expired"))
        assert str(flag.render()) == expected and "-danger" in flag.classes
        assert not foreign_words(lang, str(flag.render()))


async def test_a_card_expiring_within_30_days_is_amber(server: RunningSandbox, tmp_path: Path) -> None:
    person = holder("1")
    app = build_app(settings_for(server, Mode.RECEPTION, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, bhyt_qr_text(person))
        await wait_until(pilot, lambda: gateway_answered(app), within=20)
        state = app.screen.query_one("#insurance-state")
        assert str(state.render()) == app.t("insurance.state.expiring")
        assert "-warning" in state.classes and "-danger" not in state.classes
