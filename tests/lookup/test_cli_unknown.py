"""`kiosk unknown`, `kiosk link`, `kiosk unlink` and the temporary number in `kiosk lookup`, end to end: real
processes against a real loopback FHIR server that is down at first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lookup.domain.temporary import TEMPORARY_SYSTEM, printed_number
from tests.lookup.conftest import CARD, OTHER
from tests.lookup.fhirserver import CCCD, Faulty, free_port, serve

NAME = "4cc3aa205669e1bb87742048c6b06e67"


def kiosk(folder: Path, base: str, *args: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    env = {
        **os.environ,
        "KIOSK_SERVER": base,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(folder / "trust.json"),
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_MODE": "er",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args, "--json", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        input=stdin,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    return done.returncode, data


def holding(app: Faulty, number: str) -> list[dict[str, Any]]:
    return [p for p in app.patients.values() if {"system": TEMPORARY_SYSTEM, "value": number} in p["identifier"]]


def test_unknown_offline_then_created_once_then_linked_and_unlinked(tmp_path: Path) -> None:
    app = Faulty()
    app.add("p1", CARD)
    app.add("p2", OTHER)
    jwk = app.key.as_dict(private=False) | {"kid": app.kid, "facility_code": "01001", "facility_name": "Bạch Mai"}
    (tmp_path / "trust.json").write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"

    code, queued = kiosk(
        tmp_path, base, "unknown", "--sex", "male", "--age", "40", "--description-file", "-", stdin="áo xanh, ga Hà Nội"
    )
    assert code == 0 and queued["status"] == "queued", queued
    number = queued["patient"]["identifiers"][0]["value"]
    assert queued["patient"]["identifiers"][0]["system"] == TEMPORARY_SYSTEM
    assert queued["patient"]["alias"].startswith("Chưa rõ danh tính ") and queued["patient"]["id"] is None

    with serve(app, port):
        code, second = kiosk(tmp_path, base, "unknown", "--sex", "unknown", "--age", "70")
        assert code == 0 and second["status"] == "created" and second["patient"]["id"]
        first = holding(app, number)
        assert len(first) == 1, "the queued registration reached the server once"
        assert first[0]["extension"][0]["extension"][2] == {"url": "description", "valueString": "áo xanh, ga Hà Nội"}
        temp_id = first[0]["id"]

        code, linked = kiosk(tmp_path, base, "link", printed_number(number), "--to", "p1")
        assert code == 0 and linked["status"] == "linked" and linked["history"][0]["patient_id"] == "p1"
        code, through = kiosk(tmp_path, base, "lookup", "--identifier", printed_number(number))
        assert through["status"] == "found" and through["patient"]["id"] == "p1"
        assert through["reached_through"] == number and "temporary identity" in through["message"]
        code, real = kiosk(tmp_path, base, "lookup", "--identifier", f"{CCCD}|{CARD}")
        assert real["patient"]["id"] == "p1" and real["reached_through"] is None
        # The wristband's code scanned (its text as printed) follows the same link.
        code, scanned = kiosk(tmp_path, base, "lookup", "--qr-text-file", "-", stdin=printed_number(number))
        assert scanned["patient"]["id"] == "p1" and scanned["reached_through"] == number

        code, refused = kiosk(tmp_path, base, "link", number, "--to", "p2")
        assert code != 0 and "conflict" in refused["error"]

        code, undone = kiosk(tmp_path, base, "unlink", number)
        assert code == 0 and undone["status"] == "unlinked"
        assert [h["action"] for h in undone["history"]] == ["linked", "unlinked"]
        code, back = kiosk(tmp_path, base, "lookup", "--identifier", f"{TEMPORARY_SYSTEM}|{number}")
        assert back["patient"]["id"] == temp_id and back["reached_through"] is None
        code, real = kiosk(tmp_path, base, "lookup", "--identifier", f"{CCCD}|{CARD}")
        assert real["patient"]["id"] == "p1"
        assert len(holding(app, number)) == 1


def test_errors_are_clear(tmp_path: Path) -> None:
    app = Faulty()
    (tmp_path / "trust.json").write_text(json.dumps({"keys": []}), encoding="utf-8")
    with serve(app) as base:
        code, data = kiosk(tmp_path, base, "link", "TMP-1234-5678-0", "--to", "p1")
        assert code != 0 and "check digit" in data["error"]
        code, data = kiosk(tmp_path, base, "unknown", "--age", "400")
        assert code != 0 and "estimated_age" in data["error"]
        code, data = kiosk(tmp_path, base, "unknown", "--age", "4", "--mode", "reception")
        assert code != 0 and "ER" in data["error"]


def test_lookup_of_an_insurance_card_shows_the_gateway_state(tmp_path: Path) -> None:
    app = Faulty()
    app.expired_cards.add("HT2790123456789")
    (tmp_path / "trust.json").write_text(json.dumps({"keys": []}), encoding="utf-8")
    qr = f"HT2790123456789|{NAME}|1950|1|-|79 - 001|01/01/2024|31/12/2099|01/01/2024|79010123456789|$"
    with serve(app) as base:
        code, data = kiosk(tmp_path, base, "lookup", "--qr-text-file", "-", stdin=qr)
    assert code == 0 and data["insurance"]["state"] == "expired" and data["insurance"]["source"] == "gateway"
    code, data = kiosk(tmp_path, f"http://127.0.0.1:{free_port()}/fhir", "lookup", "--qr-text-file", "-", stdin=qr)
    assert data["insurance"]["source"] == "card" and data["insurance"]["state"] == "valid"
