"""The unknown-patient flow against the reference server (`sandbox.server`), from the command line: a staff member
signed in, registered while the server is down, created once when it is up, linked to a real patient and unlinked,
and an expired insurance card flagged by its gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lookup.domain.temporary import TEMPORARY_SYSTEM, printed_number
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import start_sandbox
from sandbox.synthetic.population import person_at
from testkit.server import STAFF_PINS
from tests.lookup.fhirserver import CCCD, free_port

SEED = 5
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
        "KIOSK_AUDIT_JOURNAL_DIR": str(folder / "journal"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_MODE": "er",
        "KIOSK_STAFF_ID": "nurse-lan",
        "KIOSK_STAFF_PIN": STAFF_PINS["nurse-lan"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args, "--json", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        input=stdin,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    return done.returncode, data


def test_unknown_patient_against_the_reference_server(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    person = person_at(3, SEED)
    config = SandboxConfig(db_path=tmp_path / "s.sqlite", population=40, seed=SEED, demo_clients=True)
    trust = tmp_path / "trust.json"
    with start_sandbox(config, trust_list_path=trust, port=port) as sandbox:
        # The nurse signs in online once, so this kiosk knows her when the server is gone.
        code, real = kiosk(tmp_path, base, "lookup", "--identifier", f"{CCCD}|{person.cccd}")
        assert code == 0 and real["patient"]["id"] == person.patient_id, real

    code, queued = kiosk(tmp_path, base, "unknown", "--sex", "female", "--age", "30")
    assert code == 0 and queued["status"] == "queued", queued
    number = queued["patient"]["identifiers"][0]["value"]
    assert queued["patient"]["identifiers"][0]["system"] == TEMPORARY_SYSTEM

    with start_sandbox(config, trust_list_path=trust, port=port) as sandbox:
        assert sandbox.base_url == base
        code, second = kiosk(tmp_path, base, "unknown", "--sex", "male", "--age", "50")
        assert code == 0 and second["status"] == "created", second
        code, first = kiosk(tmp_path, base, "lookup", "--identifier", printed_number(number))
        assert code == 0 and first["patient"] is not None and first["candidates"] == [], first
        temp_id = first["patient"]["id"]
        assert first["patient"]["identifiers"] == [{"system": TEMPORARY_SYSTEM, "value": number}]

        code, linked = kiosk(tmp_path, base, "link", number, "--to", person.patient_id)
        assert code == 0 and linked["status"] == "linked", linked
        assert linked["history"][-1]["action"] == "linked" and linked["history"][-1]["patient_id"] == person.patient_id
        assert linked["history"][-1]["staff_id"] == "nurse-lan"
        code, through = kiosk(tmp_path, base, "lookup", "--identifier", printed_number(number))
        assert through["patient"]["id"] == person.patient_id and through["reached_through"] == number, through
        code, real = kiosk(tmp_path, base, "lookup", "--identifier", f"{CCCD}|{person.cccd}")
        assert real["patient"]["id"] == person.patient_id and real["reached_through"] is None

        code, undone = kiosk(tmp_path, base, "unlink", number)
        assert code == 0 and undone["status"] == "unlinked", undone
        code, back = kiosk(tmp_path, base, "lookup", "--identifier", printed_number(number))
        assert back["patient"]["id"] == temp_id and back["reached_through"] is None
        code, real = kiosk(tmp_path, base, "lookup", "--identifier", f"{CCCD}|{person.cccd}")
        assert real["patient"]["id"] == person.patient_id

        # A card number ending in 0 expired at the end of last year (the gateway's documented rule).
        qr = f"HT2790123456780|{NAME}|1950|1|-|79 - 001|01/01/2024|31/12/2099|01/01/2024|79010123456780|$"
        code, card = kiosk(tmp_path, base, "lookup", "--qr-text-file", "-", stdin=qr)
        assert card["insurance"]["source"] == "gateway" and card["insurance"]["state"] == "expired", card
