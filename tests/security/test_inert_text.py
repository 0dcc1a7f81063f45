"""Text from servers and cards is inert: shown literally, never obeyed.

The attack: a hostile server (or a forged card) writes Textual markup, terminal escape sequences, C1 controls and
bidirectional overrides into every text field it sends. Before, an appointment description `[@click=app.quit]`
became a live action on the reception screen, an unbalanced `[/]` was a markup error that closed the app after a
few scans, and `kiosk lookup` wrote the escape sequences of a name straight to the terminal (clear the screen, set
its title, write its clipboard with OSC 52).

Here the server of `hostile_text` runs on loopback, and the real app (ER, reception, lobby) and the real `kiosk`
commands are driven against it: every field shows its markup literally, nothing that a terminal acts on reaches the
screen or the output, clicking the text does nothing, several scans leave the app running, and a SMART Health Card
or ID card QR carrying the same characters is read the same way.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input

import kiosk
from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.identity import CardNotFoundScreen, IdentityMismatchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode, load_settings
from kiosk.wiring import build_app
from testkit.frames import qr_image
from testkit.kiosk import wait_until, wedge_scan
from tests.lookup.fhirserver import serve
from tests.security.hostile_text import (
    CARD_P1,
    CARD_P2,
    CCCD,
    CLICK,
    TERMINAL_ACTORS,
    HostileServer,
    sent,
    shown,
)

SIZE = (200, 100)
ER_FIELDS = (
    "family",
    "given",
    "province",
    "facility",
    "title",
    "allergy",
    "condition",
    "clinical_status",
    "medication",
    "dosage",
    "prescription",
    "dosage_instruction",
    "encounter",
    "encounter_reason",
    "immunization",
    "blood_type",
    "lab_name",
    "lab_unit",
    "appointment",
    "referral_reason",
    "referral_from",
    "referral_to",
)
VISIT_FIELDS = ("family", "given", "appointment", "appointment_place")
LOBBY_FIELDS = ("family", "given", "appointment_place")
"""The lobby shows an appointment as time, place and department: its description (which may name a diagnosis) never.
An allergy's criticality is a code the kiosk shows in its own words, so the server's text for it is never shown."""


@pytest.fixture(autouse=True)
def _no_staff_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile server knows no staff sign-in (the lobby never asks; ER and reception are told not to)."""
    monkeypatch.setenv("KIOSK_STAFF_SIGN_IN", "false")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileServer, str, Path]]:
    server = HostileServer()
    folder = tmp_path_factory.mktemp("hostile")
    server.trust_list(folder)
    with serve(server) as base:
        yield server, base, folder


def app_for(hostile: tuple[HostileServer, str, Path], mode: Mode, tmp_path: Path) -> KioskApp:
    _, base, folder = hostile
    settings = load_settings(
        server=base, trust_list=folder / "trust.json", mode=mode, cache_dir=tmp_path / "cache", config_file=None
    )
    return build_app(settings)


def rendered(app: KioskApp) -> str:
    """The screen as the terminal receives it: the compositor's output (what Textual's own screenshot takes),
    dialogs over their screen included, recorded as text."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def acting(text: str) -> list[str]:
    """The characters of `text` a terminal acts on (line breaks aside): controls, escapes, bidirectional controls."""
    return sorted(
        {repr(ch) for ch in text if ch != "\n" and (ch in TERMINAL_ACTORS or unicodedata.category(ch) == "Cc")}
    )


def assert_inert(text: str, *fields: str) -> None:
    """Each field's words are there, markup and all, and nothing a terminal would act on is."""
    missing = [name for name in fields if shown(name) not in text]
    assert not missing and not acting(text), f"not shown literally: {missing}; on screen: {acting(text)}"


def loaded(app: KioskApp) -> bool:
    """A check-in screen is up with today's appointments read."""
    return isinstance(app.screen, VisitScreen) and app.screen.appointments is not None


def cccd_text(card: str, address: str = "12 Phố Huế, Hà Nội") -> str:
    return f"{card}||Nguyễn Thị Lan|12041990|Nữ|{address}|01012021"


async def confirm_identity(pilot: Pilot[None], app: KioskApp) -> None:
    """The card's plain name is not the record's hostile one: the side-by-side check shows the record's name as
    text, and the clerk confirms it is the person."""
    await wait_until(pilot, lambda: isinstance(app.screen, IdentityMismatchScreen))
    assert_inert(rendered(app), "family", "given")
    await pilot.click("#confirm")


async def test_er_summary_shows_every_field_as_text(hostile: tuple[HostileServer, str, Path], tmp_path: Path) -> None:
    app = app_for(hostile, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_text(CARD_P1))
        await confirm_identity(pilot, app)
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        await pilot.pause()
        screen = rendered(app)
        assert_inert(screen, *ER_FIELDS)
        assert f"{shown('family')} Thị {shown('given')}" in screen, "the Vietnamese name did not survive whole"
        assert app.is_running and not app.faults


async def test_reception_survives_scans_and_a_click_on_the_action(
    hostile: tuple[HostileServer, str, Path], tmp_path: Path
) -> None:
    app = app_for(hostile, Mode.RECEPTION, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):
            await pilot.press("ctrl+n")
            wedge_scan(app, cccd_text(CARD_P1))
            await confirm_identity(pilot, app)
            await wait_until(pilot, lambda: loaded(app))
        screen = rendered(app)
        assert_inert(screen, *VISIT_FIELDS, "province", "referral_reason", "referral_from", "referral_to")
        # Click on the words `[@click=app.quit]` of the appointment: they are text, so nothing happens.
        line_no, line = next((i, line) for i, line in enumerate(screen.splitlines()) if shown("appointment") in line)
        column = cell_len(line[: line.index(shown("appointment"))]) + len(shown("appointment")) - len(CLICK) // 2
        await pilot.click(offset=(column, line_no))
        await pilot.pause()
        assert app.is_running and app.return_code is None and not app.faults
        assert isinstance(app.screen, VisitScreen)


async def test_lobby_shows_the_appointment_as_text(hostile: tuple[HostileServer, str, Path], tmp_path: Path) -> None:
    app = app_for(hostile, Mode.LOBBY, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, CARD_P1)  # the number alone: a card naming someone else sends the patient to reception
        await wait_until(pilot, lambda: loaded(app))
        screen = rendered(app)
        assert_inert(screen, *LOBBY_FIELDS)
        assert "[@click" not in screen.replace(shown("family"), "").replace(shown("given"), "").replace(
            shown("appointment_place"), ""
        ), "the lobby shows more of the appointment than time, place and department"
        assert app.is_running and not app.faults


async def test_a_refused_break_glass_shows_the_server_sentence_as_text(
    hostile: tuple[HostileServer, str, Path], tmp_path: Path
) -> None:
    app = app_for(hostile, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_text(CARD_P2))
        await confirm_identity(pilot, app)
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog))
        app.screen.query_one("#reason", Input).value = "bất tỉnh, không có người nhà"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog) and shown("refusal") in rendered(app))
        assert_inert(rendered(app), "refusal")
        assert app.is_running and not app.faults


async def test_a_health_card_name_is_cleaned_and_candidates_are_text(
    hostile: tuple[HostileServer, str, Path], tmp_path: Path
) -> None:
    server, _, _ = hostile
    app = app_for(hostile, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        # The card's number is unknown to the server; the clerk asks for its name to be searched for.
        wedge_scan(app, server.card())
        await wait_until(pilot, lambda: isinstance(app.screen, CardNotFoundScreen), within=20.0)
        await pilot.click("#search-card")
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen), within=20.0)
        await pilot.pause()
        screen = rendered(app)
        assert_inert(screen, "candidate_family")
        # The province column is narrow and wraps a long value over the row's lines: its first line is checked.
        assert shown("candidate_province")[:14] in screen
        assert app.is_running and not app.faults
    names = [p["resource"]["name"][0] for p in server.matched[-1]["parameter"] if p["name"] == "resource"]
    assert names[0]["family"] == shown("card_family"), "the card's name left the kiosk with its escape sequences"


def test_no_kiosk_widget_reads_its_text_as_markup() -> None:
    """Every text widget of the kiosk is a `Words` (or says `markup=False`), every toast too: a widget added later
    that would read a server's words as markup is caught here, before any server sends them."""
    offenders: list[str] = []
    for path in sorted(Path(kiosk.__file__).parent.rglob("*.py")):
        if path.name == "words.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef) and any(ast.unparse(base) in ("Static", "Label") for base in node.bases):
                offenders.append(f"{where} class {node.name}")
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            plain = any(
                k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            )
            if name in ("Static", "Label", "notify") and not plain:
                offenders.append(f"{where} {name}(...)")
    assert not offenders, f"text read as markup: {offenders}"


# -- the command line -------------------------------------------------------------------------------------------


def run_kiosk(folder: Path, base: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "KIOSK_SERVER": base,
        "KIOSK_TRUST_LIST": str(folder / "trust.json"),
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_MODE": "er",
    }
    for name in ("KIOSK_CLIENT_ID", "KIOSK_CLIENT_SECRET"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, timeout=60, env=env)


def assert_terminal_safe(raw: bytes) -> str:
    """Output bytes hold no escape, control (but line breaks) or bidirectional character; returns the text."""
    text = raw.decode("utf-8")
    assert not acting(text), f"characters a terminal acts on in the output: {acting(text)}"
    return text


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_kiosk_lookup_prints_no_escape_sequences(hostile: tuple[HostileServer, str, Path]) -> None:
    _, base, folder = hostile
    done = run_kiosk(folder, base, "lookup", "--identifier", f"{CCCD}|{CARD_P1}", "--no-cache", "--timeout", "5")
    assert done.returncode == 0, done.stderr.decode()
    out = assert_terminal_safe(done.stdout)
    assert shown("family") in out and shown("given") in out and shown("facility") in out
    assert_terminal_safe(done.stderr)


def test_kiosk_lookup_json_keeps_the_words_and_drops_the_controls(hostile: tuple[HostileServer, str, Path]) -> None:
    _, base, folder = hostile
    done = run_kiosk(folder, base, "lookup", "--identifier", f"{CCCD}|{CARD_P1}", "--no-cache", "--json")
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(assert_terminal_safe(done.stdout))
    demographics = data["patient"]["demographics"]
    assert (demographics["family"], demographics["address"]) == (shown("family"), shown("address"))
    summary = data["summary"]
    assert summary["appointments"][0]["description"] == shown("appointment")
    assert any(r["value_text"] == shown("lab_text") for r in summary["results"])
    assert not [s for s in strings(data) if acting(s)], "a string of the answer still holds controls"


def test_kiosk_doctor_prints_no_escape_sequences(hostile: tuple[HostileServer, str, Path]) -> None:
    _, base, folder = hostile
    done = run_kiosk(folder, base, "doctor", "--timeout", "5")
    assert shown("fhir_version") in assert_terminal_safe(done.stdout), done.stdout.decode()


def test_kiosk_scan_of_cards_carrying_controls(hostile: tuple[HostileServer, str, Path], tmp_path: Path) -> None:
    server, base, folder = hostile
    shc = tmp_path / "shc.png"
    cv2.imwrite(str(shc), qr_image(server.card(CARD_P1)))
    address = f"12 Phố Huế{sent('address')}"
    cccd = tmp_path / "cccd.png"
    cv2.imwrite(str(cccd), qr_image(cccd_text(CARD_P2, address).encode("utf-8")))

    plain = run_kiosk(folder, base, "scan", str(shc), str(cccd))
    out = assert_terminal_safe(plain.stdout)
    assert shown("card_family") in out, out

    as_json = run_kiosk(folder, base, "scan", str(shc), str(cccd), "--json")
    card, id_card = (json.loads(line)["results"][0] for line in assert_terminal_safe(as_json.stdout).splitlines())
    assert card["kind"] == "shc" and card["signature"]["status"] == "valid"
    assert card["demographics"]["family"] == shown("card_family")
    assert id_card["kind"] == "cccd" and id_card["demographics"]["address"] == f"12 Phố Huế{shown('address')}"
    for result in (card, id_card):
        # `text` is the code exactly as read (a parser's input, not display text): JSON escapes its controls.
        fields = {k: v for k, v in result.items() if k != "text"}
        assert not [s for s in strings(fields) if acting(s)], "a card field still holds controls"


def test_vietnamese_text_survives_the_rule() -> None:
    from lookup.domain.text import inert

    composed = "Nguyễn Thị Minh Khai, phường Đống Đa, Hà Nội"
    assert inert(composed) == composed
    assert inert(unicodedata.normalize("NFD", composed)) == composed
    assert inert(f"\u202e{composed}\x1b[2J\u2066") == composed
    assert inert("Trần Văn Ơn" * 30, limit=31).endswith("…")
    cut = inert(unicodedata.normalize("NFD", "ễ" * 40), limit=10)
    assert cut == "ễ" * 9 + "…"
