"""`kiosk scan PATH... --json`: one JSON object per path, health cards checked against KIOSK_TRUST_LIST."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from kiosk.cli import main
from testkit.frames import qr_image
from tests.scanners.conftest import BLACKBOX, FHIR, SHC_ISSUER
from tests.scanners.test_payloads import BHYT_NEW, CARD_2024


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.delenv("KIOSK_TRUST_LIST", raising=False)


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["scan", *args, "--json"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def _png(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    cv2.imwrite(str(path), qr_image(content.encode("utf-8")))
    return str(path)


def test_cards_and_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cccd = _png(tmp_path, "cccd.png", CARD_2024)
    bhyt = _png(tmp_path, "bhyt.png", BHYT_NEW)
    code, out = _scan(capsys, cccd, bhyt, str(tmp_path / "missing.png"))
    assert code == 1
    assert [o["source"] for o in out] == [cccd, bhyt, str(tmp_path / "missing.png")]
    (card,) = out[0]["results"]
    assert out[0]["error"] is None
    assert card["kind"] == "cccd" and card["format"] == "QRCode" and card["decoder"] == "zxing-cpp"
    assert card["text"] == CARD_2024
    assert card["identifiers"] == [{"system": "http://fhir.hl7.org.vn/core/sid/cccd", "value": "093186002237"}]
    assert card["demographics"]["given"] == "Thư" and card["demographics"]["birth_date"] == "1986-01-11"
    assert card["signature"] == {"status": "unsigned", "issuer": None, "reason": None}
    assert out[1]["results"][0]["kind"] == "bhyt"
    assert out[2]["results"] == [] and "no such file" in out[2]["error"]


def test_pyzbar_alone_keeps_vietnamese_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cccd = _png(tmp_path, "cccd.png", CARD_2024)
    code, out = _scan(capsys, cccd, "--decoder", "pyzbar")
    assert code == 0
    assert out[0]["results"][0]["decoder"] == "pyzbar"
    assert out[0]["results"][0]["demographics"]["family"] == "Nguyễn"


def test_three_part_health_card_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trust_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_TRUST_LIST", str(trust_file))
    parts = [
        _png(tmp_path, f"part{i}.png", (FHIR / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text().strip())
        for i in range(3)
    ]
    code, out = _scan(capsys, *parts)
    assert code == 0
    assert [o["results"][0]["kind"] for o in out] == ["shc", "shc", "shc"]
    assert out[-1]["results"][0]["signature"] == {"status": "valid", "issuer": SHC_ISSUER, "reason": None}
    assert out[0]["results"][0]["warnings"]


def test_untrusted_card_and_no_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = _png(tmp_path, "card.png", (FHIR / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip())
    empty = BLACKBOX / "falsepositives-2" / sorted(p.name for p in (BLACKBOX / "falsepositives-2").iterdir())[0]
    code, out = _scan(capsys, card, str(empty))
    assert code == 0
    assert out[0]["results"][0]["signature"]["status"] == "unknown-signer"
    assert out[1] == {"source": str(empty), "results": [], "error": None}


def test_bad_trust_list_is_a_json_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text("{}", encoding="utf-8")
    code, out = _scan(capsys, "x.png", "--trust-list", str(bad))
    assert code == 1 and "error" in out[0] and "JWKS" in out[0]["error"]


def test_plain_output_is_one_line_per_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cccd = _png(tmp_path, "cccd.png", CARD_2024)
    assert main(["scan", cccd]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "cccd" in line and "093186002237" in line
