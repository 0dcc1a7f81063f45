"""A health-insurance card's validity read from its QR: the dates of fields [6] and [7], the benefit level of an old
card, and the state the desk is told (`kiosk scan --json` shows it)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cv2
import pytest

from kiosk.cli import main
from lookup.domain.model import Eligibility
from scanners.payloads.bhyt import parse_bhyt
from testkit.frames import qr_image
from tests.scanners.test_payloads import BHYT_NEW, BHYT_OLD

NAME = "4cc3aa205669e1bb87742048c6b06e67"
TODAY = dt.date(2026, 3, 1)


def test_old_card_dates_and_benefit_level() -> None:
    insurance = parse_bhyt(BHYT_OLD).insurance
    assert insurance == Eligibility(
        card_number="DN401AA31900313",
        valid_from=dt.date(2017, 7, 1),
        valid_to=dt.date(2017, 12, 31),
        benefit_level=4,
        source="card",
    )
    assert insurance.state(TODAY) == "expired"


def test_new_card_open_ended_is_valid_and_has_no_level_on_the_card() -> None:
    insurance = parse_bhyt(BHYT_NEW).insurance
    assert insurance is not None and insurance.valid_from == dt.date(2023, 7, 1) and insurance.valid_to is None
    assert insurance.benefit_level is None and insurance.state(TODAY) == "valid"


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "state"),
    [
        ("01/01/2026", "31/12/2026", "valid"),
        ("01/01/2026", "15/03/2026", "expiring"),
        ("01/01/2025", "28/02/2026", "expired"),
        ("01/04/2026", "31/12/2026", "not-yet-valid"),
    ],
)
def test_state_of_the_card_dates(valid_from: str, valid_to: str, state: str) -> None:
    text = f"HT3790123456789|{NAME}|1950|1|-|79 - 001|{valid_from}|{valid_to}|01/01/2024|79010123456789|$"
    reading = parse_bhyt(text)
    assert reading.insurance is not None and reading.insurance.benefit_level == 3
    assert reading.insurance.state(TODAY) == state


def test_an_unreadable_validity_date_is_unknown_with_a_warning_never_valid() -> None:
    reading = parse_bhyt(f"0111077012|{NAME}|1950|1|-|79 - 001|31/02/2026|xx|01/01/2024|$")
    assert reading.insurance is not None and reading.insurance.state(TODAY) == "unknown"
    assert sum("validity is not known" in w for w in reading.warnings) == 2
    assert reading.identifiers[0].value == "0111077012"


def test_kiosk_scan_json_shows_an_expired_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.delenv("KIOSK_TRUST_LIST", raising=False)
    path = tmp_path / "bhyt.png"
    text = f"HT2790123456789|{NAME}|1950|1|-|79 - 001|01/01/2024|31/12/2024|01/01/2024|79010123456789|$"
    cv2.imwrite(str(path), qr_image(text.encode("utf-8")))
    assert main(["scan", str(path), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["insurance"]["state"] == "expired"
    assert result["insurance"]["valid_to"] == "2024-12-31" and result["insurance"]["benefit_level"] == 2
    assert result["insurance"]["card_number"] == "HT2790123456789"
