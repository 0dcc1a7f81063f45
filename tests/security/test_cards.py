"""Health cards that must not pass for true: a card not yet valid or expired is not `valid`, and a tampered card
(signature `invalid`) or one from an unknown issuer identifies nobody until the clerk has read a warning.

The app is the real Textual app driven by its pilot against a real FHIR server on loopback that records every
request; the command line is a real `kiosk lookup` process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey
from textual.widgets import Static

from kiosk.app import KioskApp
from kiosk.i18n import Translator
from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode, load_settings
from kiosk.wiring import build_app
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import SignatureStatus
from lookup.trust.trust_list import TrustList
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import generate_people
from scanners.payloads import interpret
from scanners.payloads.shc import parse_shc
from testkit.health_cards import issuer_jwk, signed_card, stripped, tampered
from testkit.kiosk import wait_until, wedge_scan
from tests.lookup.conftest import CARD
from tests.lookup.fhirserver import Faulty, serve

ISSUER_KEY = ECKey.generate_key("P-256")
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": DEFAULT_TABLE.system(IdentifierKind.CCCD), "value": CARD}],
    "name": [{"family": "Nguyễn", "given": ["Thị", "Lan"]}],
    "gender": "female",
    "birthDate": "1990-04-12",
}
CARD_TEXT = signed_card(ISSUER_KEY, PATIENT)
TAMPERED = tampered(CARD_TEXT)
YEAR = 365 * 86400


def _trust() -> TrustList:
    return TrustList.from_jwks({"keys": [issuer_jwk(ISSUER_KEY)]})


def test_a_card_not_valid_for_ten_years_yet_is_not_valid() -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    early = parse_shc(signed_card(ISSUER_KEY, PATIENT, nbf=now + 10 * YEAR), _trust()).signature
    assert early.status is SignatureStatus.INVALID, "a card valid only ten years from now passed as valid"
    assert early.reason is not None and early.reason.startswith("the card is not valid before ")
    expired = parse_shc(signed_card(ISSUER_KEY, PATIENT, nbf=now - 2 * YEAR, exp=now - YEAR), _trust()).signature
    assert expired.status is SignatureStatus.INVALID and (expired.reason or "").startswith("the card expired on ")
    # A clock a minute or two off is no reason to refuse a card issued just now.
    fresh = parse_shc(signed_card(ISSUER_KEY, PATIENT, nbf=now + 120), _trust()).signature
    assert fresh.status is SignatureStatus.VALID
    assert parse_shc(TAMPERED, _trust()).signature.status is SignatureStatus.INVALID


def test_which_cards_need_a_warning() -> None:
    assert interpret(TAMPERED, trust=_trust()).unverified
    assert interpret(stripped(CARD_TEXT), trust=_trust()).unverified
    assert interpret(CARD_TEXT, trust=TrustList.empty()).unverified  # unknown issuer
    assert not interpret(CARD_TEXT, trust=_trust()).unverified
    # A citizen ID card's QR is never signed: nothing to warn about, and nothing proven either.
    assert not interpret(cccd_qr_text(next(iter(generate_people(1, 5)))), trust=_trust()).unverified


# -- the app -------------------------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Faulty, str, Path]]:
    app = Faulty()
    app.add("p1", CARD)
    facility = app.key.as_dict(private=False) | {"kid": app.kid, "facility_code": "01001", "facility_name": "Bạch Mai"}
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"keys": [facility, issuer_jwk(ISSUER_KEY)]}), encoding="utf-8")
    with serve(app) as base:
        yield app, base, trust


def _app(server: tuple[Faulty, str, Path], mode: Mode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KioskApp:
    _, base, trust = server
    # Staff sign-in is another part's concern, and this server has no staff identity.
    monkeypatch.setenv("KIOSK_STAFF_SIGN_IN", "false")
    settings = load_settings(
        server=base,
        client_id="demo-er",
        client_secret="demo-er",
        trust_list=trust,
        mode=mode,
        cache_dir=tmp_path / "cache",
        cache_key_file=tmp_path / "keys" / "cache.key",
        config_file=None,
        lang="en",
    )
    return build_app(settings)


def _looked_up(app: Faulty) -> list[str]:
    return [r for r in app.requests if r.startswith(("GET Patient", "POST Patient", "POST auth/token"))]


def _warning_up(app: KioskApp) -> bool:
    return bool(app.screen.query("#continue"))


def _shown(app: KioskApp) -> str:
    return " ".join(str(w.content) for w in app.screen.query(Static))


async def test_a_tampered_card_shows_a_warning_before_any_lookup(
    server: tuple[Faulty, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fhir = server[0]
    app = _app(server, Mode.ER, tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        wedge_scan(app, TAMPERED)
        await wait_until(pilot, lambda: _warning_up(app) or bool(_looked_up(fhir)))
        assert not _looked_up(fhir), "a tampered card drove a lookup with no warning"
        assert _warning_up(app)
        words = _shown(app)
        t = Translator("en")
        assert t("card.unverified.title") in words and t("card.invalid.body") in words
        assert "the signature does not match the card's content" in words

        await pilot.press("enter")  # Cancel is the default
        await wait_until(pilot, lambda: not _warning_up(app))
        await pilot.pause(0.3)
        assert not _looked_up(fhir), "cancelling the warning still looked the card up"

        wedge_scan(app, TAMPERED)
        await wait_until(pilot, lambda: _warning_up(app))
        await pilot.click("#continue")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert _looked_up(fhir)


async def test_the_lobby_refuses_an_unverified_card_outright(
    server: tuple[Faulty, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fhir = server[0]
    unknown = signed_card(ECKey.generate_key("P-256"), PATIENT, kid="someone-else")
    app = _app(server, Mode.LOBBY, tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for card in (TAMPERED, unknown, stripped(CARD_TEXT)):
            wedge_scan(app, card)
            await wait_until(
                pilot, lambda: bool(app.screen.query("#notice-body")) or bool(_looked_up(fhir)), within=30.0
            )
            assert not _looked_up(fhir), "an unverified card identified someone in the lobby"
            assert Translator("en")("card.lobby") in _shown(app)
            assert not _warning_up(app)  # nobody in the lobby may choose to go on
            await pilot.press("enter")
            await wait_until(pilot, lambda: not app.screen.query("#notice-body"), within=30.0)


# -- the command line ------------------------------------------------------------------------------------------------


def _kiosk(server: tuple[Faulty, str, Path], tmp_path: Path, card: str, *flags: str) -> tuple[int, dict[str, Any]]:
    _, base, trust = server
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env = inherited | {
        "KIOSK_SERVER": base,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(trust),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_STAFF_SIGN_IN": "false",
        "KIOSK_MODE": "er",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "lookup", "--qr-text-file", "-", "--json", "--no-cache", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        input=card,
        env=env,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1])


def test_kiosk_lookup_refuses_an_unverified_card_unless_told(server: tuple[Faulty, str, Path], tmp_path: Path) -> None:
    fhir = server[0]
    code, refused = _kiosk(server, tmp_path, TAMPERED)
    assert not _looked_up(fhir), "kiosk lookup looked a tampered card up without being told to"
    assert code != 0 and "signature is invalid" in refused["error"] and "--accept-unverified-card" in refused["error"]
    code, accepted = _kiosk(server, tmp_path, TAMPERED, "--accept-unverified-card")
    assert code == 0 and accepted["status"] == "found" and accepted["patient"]["id"] == "p1"
    assert len(accepted["warnings"]) == 1 and "signature is invalid" in accepted["warnings"][0]
    code, plain = _kiosk(server, tmp_path, CARD_TEXT)
    assert code == 0 and plain["status"] == "found" and "warnings" not in plain
