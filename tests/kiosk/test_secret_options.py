"""`kiosk lookup`'s secret options: read from a file or standard input, with clear errors that never echo a value."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.cli import main


def _lookup(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["lookup", *args, "--json", "--server", "http://127.0.0.1:9/fhir", "--no-cache", "--timeout", "0.2"])
    lines = capsys.readouterr().out.strip().splitlines()
    answer: dict[str, Any] = json.loads(lines[-1])
    return code, answer


@pytest.fixture(autouse=True)
def _no_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("KIOSK_AUDIT_JOURNAL_DIR", str(tmp_path / "journal"))
    for name in ("KIOSK_SERVER", "KIOSK_CLIENT_ID", "KIOSK_CLIENT_SECRET", "KIOSK_TRUST_LIST"):
        monkeypatch.delenv(name, raising=False)


def test_a_missing_an_empty_and_a_too_large_file_are_named_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, answer = _lookup(capsys, "--qr-text-file", str(tmp_path / "nowhere.txt"))
    assert code == 1 and answer["error"] == f"--qr-text-file: there is no file {tmp_path / 'nowhere.txt'}"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    code, answer = _lookup(capsys, "--identifier", "urn:x|1", "--break-glass-file", str(empty))
    assert code == 1 and answer["error"] == f"--break-glass-file: {empty} is empty"
    large = tmp_path / "large.txt"
    large.write_text("7" * 5000, encoding="utf-8")
    code, answer = _lookup(capsys, "--identifier", "urn:x|1", "--passcode-file", str(large))
    assert code == 1 and "too large" in answer["error"] and "7777" not in answer["error"]
    code, answer = _lookup(capsys, "--qr-text-file", str(tmp_path))
    assert code == 1 and "is a folder" in answer["error"]


def test_standard_input_feeds_one_option_at_most(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, answer = _lookup(capsys, "--qr-text-file", "-", "--passcode-file", "-")
    assert code == 1 and "only one option may read standard input" in answer["error"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe not text")))
    code, answer = _lookup(capsys, "--qr-text-file", "-")
    assert code == 1 and answer["error"] == "--qr-text-file: standard input is not UTF-8 text"
