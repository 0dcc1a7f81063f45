"""`kiosk lookup --json` end to end: a real process against a real loopback FHIR server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lookup.conftest import CARD, OTHER
from tests.lookup.fhirserver import CCCD, Faulty, free_port, serve

KEYS = {"status", "source", "age_seconds", "patient", "candidates", "summary", "message"}
KEYS |= {"card", "record", "differs", "fallback", "reached_through"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Faulty, str, Path]]:
    app = Faulty()
    app.add("p1", CARD)
    app.add("p2", OTHER, consent=False)
    folder = tmp_path_factory.mktemp("cli")
    jwk = app.key.as_dict(private=False) | {"kid": app.kid, "facility_code": "01001", "facility_name": "Bạch Mai"}
    trust = folder / "trust.json"
    trust.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    with serve(app) as base:
        yield app, base, folder


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
        [sys.executable, "-m", "kiosk.cli", "lookup", *args, "--json", "--timeout", "1"],
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


def test_identifier_lookup_prints_the_issue_shape(server: tuple[Faulty, str, Path]) -> None:
    app, base, folder = server
    code, data = kiosk(folder, base, "--identifier", f"{CCCD}|{CARD}")
    assert code == 0 and set(data) == KEYS
    assert data["status"] == "found" and data["source"] == "network" and data["age_seconds"] is None
    assert data["patient"]["id"] == "p1"
    assert data["summary"]["documents"] == [
        {"facility": "Bệnh viện Bạch Mai", "type": "60591-5", "date": "2025-03-01", "signature": "valid"}
    ]
    assert data["summary"]["allergies"][0]["text"] == "Penicillin"
    assert any(a["resourceType"] == "AuditEvent" for a in app.audits.values()), "the audit reached the server"


def test_qr_text_consent_and_break_glass(server: tuple[Faulty, str, Path]) -> None:
    _, base, folder = server
    qr = f"{OTHER}||Nguyễn Thị Lan|12041990|Nữ|12 Phố Huế, Hà Nội|01012021"
    code, data = kiosk(folder, base, "--qr-text-file", "-", stdin=qr)
    assert code == 0 and data["status"] == "consent-required" and data["summary"] is None
    assert data["patient"]["id"] == "p2"
    reason = folder / "reason.txt"
    reason.write_text("unconscious, no relatives\n", encoding="utf-8")
    code, data = kiosk(folder, base, "--qr-text-file", "-", "--break-glass-file", str(reason), stdin=qr)
    assert data["status"] == "found" and data["summary"]["documents"][0]["signature"] == "valid"


def test_bad_input_and_dead_server(server: tuple[Faulty, str, Path]) -> None:
    _, base, folder = server
    code, data = kiosk(folder, base, "--identifier", "no-bar-here")
    assert code != 0 and "SYSTEM|VALUE" in data["error"]
    code, data = kiosk(folder, f"http://127.0.0.1:{free_port()}/fhir", "--identifier", f"{CCCD}|{CARD}")
    assert code == 0 and data["status"] in ("offline", "found")
    assert data["status"] == "offline" or data["source"] == "cache"


def test_demographic_lookup_against_the_sandbox(tmp_path: Path) -> None:
    from sandbox.server.config import SandboxConfig
    from sandbox.server.runner import start_sandbox
    from sandbox.synthetic.population import person_at

    person = person_at(7, 5)
    config = SandboxConfig(db_path=tmp_path / "s.sqlite", population=80, seed=5, demo_clients=True)
    with start_sandbox(config, trust_list_path=tmp_path / "trust.json") as sandbox:
        code, data = kiosk(
            tmp_path,
            sandbox.base_url,
            "--family",
            person.family,
            "--given",
            person.given,
            "--birthdate",
            person.birth_date.isoformat(),
            "--gender",
            person.sex.value,
        )
    assert code == 0 and set(data) == KEYS
    top = data["patient"] if data["status"] == "found" else data["candidates"][0]["patient"]
    assert top["id"] == person.patient_id
