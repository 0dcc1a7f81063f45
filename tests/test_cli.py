"""The command line: help, doctor, settings from environment, errors as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.settings import Mode, load_settings


def _kiosk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_commands() -> None:
    result = _kiosk("--help")
    assert result.returncode == 0
    assert "doctor" in result.stdout


def test_doctor_json_reports_every_check(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text("{not json", encoding="utf-8")
    result = _kiosk(
        "doctor",
        "--json",
        env={
            "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
            "KIOSK_TRUST_LIST": str(trust),
            "KIOSK_SERVER": "http://127.0.0.1:9/fhir",
            "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        },
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {line["name"]: line for line in lines}
    assert {"decoder:zxing-cpp", "decoder:pyzbar", "cache", "server", "trust-list", "camera"} <= set(by_name)
    assert by_name["cache"]["status"] == "ok"
    assert by_name["server"]["status"] == "error"
    assert by_name["trust-list"]["status"] == "error"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_settings_from_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('mode = "reception"\nlang = "en"\nserver = "http://127.0.0.1:8700/fhir"\n', encoding="utf-8")
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(config))
    monkeypatch.delenv("KIOSK_MODE", raising=False)
    settings = load_settings()
    assert settings.mode is Mode.RECEPTION and settings.lang == "en"
    monkeypatch.setenv("KIOSK_MODE", "lobby")
    assert load_settings().mode is Mode.LOBBY
    assert load_settings().effective_ttl_hours == 0.0


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    result = _kiosk("doctor", "--json", env={"KIOSK_MODE": "surgery", "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml")})
    assert result.returncode != 0
    error = json.loads(result.stdout.splitlines()[-1])["error"]
    assert "mode" in error
    assert "Traceback" not in result.stderr + result.stdout
