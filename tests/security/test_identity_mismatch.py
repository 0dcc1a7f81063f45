"""A card carrying one person's ID number with another person's name, birth date and sex opens nobody by itself.

The attack: a CCCD QR with A's number and B's demographics (a forged or misprinted card, or a record filed under the
wrong number). The kiosk must say `identity-mismatch`, ask the server for nothing clinical about A, show card and
record side by side, and open A only when a staff member confirms, which its audit says. The lobby sends the person
to reception. Real sandbox, real app through its pilot, the real `kiosk lookup --json` process.
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
from textual.widgets import Button, Static

from kiosk.app import KioskApp
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.screens.waiting import WaitingScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import CARD_ISSUED
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from testkit.server import STAFF_PINS

POPULATION = 300
SIZE = (120, 40)
CLINICAL_READS = ("$summary", "Bundle", "Consent", "Appointment", "ServiceRequest", "MedicationRequest")
"""Subtypes of the server's own audit events that mean something clinical about the patient was asked for."""


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def forged_card(number_of: SyntheticPerson, looks_like: SyntheticPerson) -> str:
    """A CCCD QR text with one person's number and the other's name, birth date, sex and address."""
    sex = "Nam" if looks_like.sex.value == "male" else "Nữ"
    return (
        f"{number_of.cccd}||{looks_like.full_name}|{looks_like.birth_date:%d%m%Y}|{sex}|{looks_like.address}"
        f"|{CARD_ISSUED:%d%m%Y}"
    )


def pair(n: int) -> tuple[SyntheticPerson, SyntheticPerson]:
    """A (the n-th consented person with records; each test its own, so the server's audit tells tests apart) and B,
    a person of another name, birth year and sex."""
    owner = with_records(POPULATION)[n]
    other = next(
        p
        for p in people(POPULATION)
        if p.family != owner.family
        and p.given != owner.given
        and p.sex != owner.sex
        and p.birth_date.year != owner.birth_date.year
    )
    return owner, other


def clinical_reads(server: RunningSandbox, patient_id: str) -> list[str]:
    """What the server's audit says was read about the patient beyond who they are."""
    events, _ = server.state.store.audits_of(patient_id, 10_000, 0)
    subtypes = [str((e.get("subtype") or [{}])[0].get("display", "")) for e in events]
    return [s for s in subtypes if any(word in s for word in CLINICAL_READS)]


def kiosk_trail(server: RunningSandbox, patient_id: str) -> list[str]:
    """The kiosk's own audit events about the patient, as `action: result`."""
    events, _ = server.state.store.audits_of(patient_id, 10_000, 0)
    return [str(e.get("outcomeDesc", "")) for e in events]


def screen_text(app: KioskApp) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    for widget in app.screen.query(Static):
        content = widget.content
        console.print(content if isinstance(content, str | Text | Table) else str(content), markup=False)
    return console.export_text()


async def test_er_card_with_anothers_name_shows_both_and_opens_only_when_confirmed(
    server: RunningSandbox, tmp_path: Path
) -> None:
    owner, other = pair(0)
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, forged_card(owner, other))
        await wait_until(pilot, lambda: not isinstance(app.screen, WaitingScreen), within=15)
        await pilot.pause()
        assert not isinstance(app.screen, SummaryScreen), "the ID's owner opened although the card names another"
        text = screen_text(app)
        assert "Thẻ và hồ sơ không khớp" in text
        assert other.full_name in text and owner.full_name in text, "both identities are shown side by side"
        assert clinical_reads(server, owner.patient_id) == [], "nothing clinical may be asked for before confirming"
        assert str(app.screen.query_one("#confirm", Button).label) == "Đúng người này — mở hồ sơ"
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=15)
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.patient.id == owner.patient_id
        await wait_until(pilot, lambda: "open: identity-confirmed" in kiosk_trail(server, owner.patient_id), 15)
        assert "lookup: identity-mismatch" in kiosk_trail(server, owner.patient_id)


async def test_er_not_this_person_cancels_and_opens_nothing(server: RunningSandbox, tmp_path: Path) -> None:
    owner, other = pair(1)
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, forged_card(owner, other))
        await wait_until(pilot, lambda: "Thẻ và hồ sơ không khớp" in screen_text(app), within=15)
        await pilot.press("enter")  # the focus is on "not this person"
        await wait_until(pilot, lambda: isinstance(app.screen, WaitingScreen))
        assert owner.full_name not in screen_text(app)


async def test_lobby_sends_a_mismatched_card_to_reception(server: RunningSandbox, tmp_path: Path) -> None:
    owner, other = pair(2)
    app = build_app(settings_for(server, Mode.LOBBY, tmp_path / "cache"))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, forged_card(owner, other))
        await wait_until(pilot, lambda: not isinstance(app.screen, WaitingScreen), within=15)
        await pilot.pause()
        assert not isinstance(app.screen, VisitScreen), "the lobby checked in the ID's owner"
        text = screen_text(app)
        assert "quầy tiếp đón" in text and owner.full_name not in text


def test_json_says_identity_mismatch_with_both_identities(server: RunningSandbox, tmp_path: Path) -> None:
    owner, other = pair(3)
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
        [sys.executable, "-m", "kiosk.cli", "lookup", "--qr-text-file", "-", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=forged_card(owner, other),
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    assert data["status"] == "identity-mismatch", data["status"]
    assert data["summary"] is None
    assert data["card"]["given"] == other.given and data["record"]["given"] == owner.given
    assert set(data["differs"]) == {"name", "birth_date", "sex"}
    assert clinical_reads(server, owner.patient_id) == []
    confirmed = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "lookup",
            "--patient-id",
            owner.patient_id,
            "--identity-confirmed",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout.strip().splitlines()[-1])["status"] == "found"
    assert "open: identity-confirmed" in kiosk_trail(server, owner.patient_id)
