"""`kiosk trust list | add | remove | revoke`, run as the real command in a child process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
from joserfc.jwk import ECKey

from testkit.frames import qr_image

REPO = Path(__file__).resolve().parents[2]
FHIR = REPO / "tests" / "data" / "samples" / "fhir"
JWKS = FHIR / "jwks.json"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
KIDS = ["3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s", "EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw"]


def kiosk(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("KIOSK_TRUST_LIST", "KIOSK_STAFF_ID")}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"), **env},
    )


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    data: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return data


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message: str = json.loads(result.stdout)["error"]
    return message


def audit(trust: Path) -> list[dict[str, Any]]:
    path = trust.with_name(trust.name + ".audit.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def card_images(tmp_path: Path) -> list[str]:
    paths = []
    for name in ("example-00-f-qr-code-numeric-value-0", "example-02-f-qr-code-numeric-value-0"):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), qr_image((FHIR / f"{name}.txt").read_text(encoding="utf-8").strip().encode()))
        paths.append(str(path))
    for i in (1, 2):
        path = tmp_path / f"part{i}.png"
        text = (FHIR / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text(encoding="utf-8").strip()
        cv2.imwrite(str(path), qr_image(text.encode()))
        paths.append(str(path))
    return paths


def scan_statuses(tmp_path: Path, trust: Path) -> list[str]:
    result = kiosk(tmp_path, "scan", "--json", "--trust-list", str(trust), *card_images(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return [
        r["signature"]["status"] for line in lines for r in line["results"] if r["signature"]["status"] != "unsigned"
    ]


def test_the_example_issuer_pinned_by_url_verifies_the_example_cards(tmp_path: Path) -> None:
    assert scan_statuses(tmp_path, JWKS)[0] == "unknown-signer"  # the same JWKS as a plain trust list
    trust = tmp_path / "made" / "here" / "trust.json"
    added = ok(kiosk(tmp_path, "trust", "add", "--issuer", SHC_ISSUER, "--jwks", str(JWKS), "--json", **_list(trust)))
    assert [c["kid"] for c in added["changes"]] == KIDS and {c["change"] for c in added["changes"]} == {"added"}
    assert stat.S_IMODE(trust.stat().st_mode) == 0o644
    assert scan_statuses(tmp_path, trust) == ["valid", "valid"]  # example-00, and example-02 once its 3 parts are in
    published = json.loads(JWKS.read_text(encoding="utf-8"))
    assert json.loads(trust.read_text(encoding="utf-8"))["issuerInfo"][0]["keys"] == published["keys"]
    listed = ok(kiosk(tmp_path, "trust", "list", "--json", **_list(trust)))
    assert listed["issuers"] == [{"iss": SHC_ISSUER, "name": None, "not_after": None, "keys": 2}]
    assert [(k["kid"], k["thumbprint"], k["revoked"]) for k in listed["keys"]] == [(kid, kid, None) for kid in KIDS]


def test_revoke_then_remove_and_every_change_is_audited(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    ok(kiosk(tmp_path, "trust", "add", "--issuer", SHC_ISSUER, "--jwks", str(JWKS), "--json", **_list(trust)))
    revoke = ("trust", "revoke", "--kid", KIDS[0], "--reason", "key leaked", "--staff-id", "bs.lan", "--json")
    revoked = ok(kiosk(tmp_path, *revoke, **_list(trust)))
    assert revoked["changes"] == [{"change": "revoked", "kid": KIDS[0], "thumbprint": KIDS[0]}]
    assert scan_statuses(tmp_path, trust) == ["invalid", "invalid"]
    listed = ok(kiosk(tmp_path, "trust", "list", "--json", **_list(trust)))
    assert listed["keys"][0]["revoked"]["reason"] == "key leaked"
    again = refused(kiosk(tmp_path, "trust", "revoke", "--kid", KIDS[0], "--reason", "x", "--json", **_list(trust)))
    assert "already revoked" in again
    ok(kiosk(tmp_path, "trust", "remove", "--kid", KIDS[1], "--json", KIOSK_STAFF_ID="dd.mai", **_list(trust)))
    ok(kiosk(tmp_path, "trust", "remove", "--issuer", SHC_ISSUER, "--json", **_list(trust)))
    assert "no key" in refused(kiosk(tmp_path, "trust", "remove", "--kid", "nope", "--json", **_list(trust)))
    events = audit(trust)
    assert [e["event"] for e in events] == ["trust-add", "trust-revoke", "trust-remove", "trust-remove"]
    assert [e["staff_from"] for e in events] == ["os-user", "option", "settings", "os-user"]
    assert events[1]["staff"] == "bs.lan" and events[1]["reason"] == "key leaked" and events[2]["staff"] == "dd.mai"
    assert events[3]["changes"] == [{"change": "removed", "kid": KIDS[0], "issuer": SHC_ISSUER}]
    published = JWKS.read_text(encoding="utf-8")
    for key in json.loads(published)["keys"]:
        assert key["x"] not in trust.with_name("trust.json.audit.jsonl").read_text(encoding="utf-8")
    assert stat.S_IMODE(trust.with_name("trust.json.audit.jsonl").stat().st_mode) == 0o600


def test_a_directory_snapshot_and_a_facility_key(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    published = json.loads(JWKS.read_text(encoding="utf-8"))
    other = ECKey.generate_key("P-256").as_dict(private=False) | {"kid": "other-1"}
    snapshot = tmp_path / "vci_snapshot.json"
    snapshot.write_text(
        json.dumps(
            {
                "directory": "https://example.org/vci_snapshot.json",
                "issuerInfo": [
                    {"issuer": {"iss": SHC_ISSUER, "name": "SMART example"}, "keys": published["keys"]},
                    {"issuer": {"iss": "https://other.example/shc", "name": "Other"}, "keys": [other]},
                ],
            }
        ),
        encoding="utf-8",
    )
    only = kiosk(tmp_path, "trust", "add", "--directory", str(snapshot), "--only", SHC_ISSUER, "--json", **_list(trust))
    assert [c["issuer"] for c in ok(only)["changes"]] == [SHC_ISSUER, SHC_ISSUER]
    assert scan_statuses(tmp_path, trust)[0] == "valid"
    everything = ok(
        kiosk(
            tmp_path, "trust", "add", "--directory", str(snapshot), "--expires", "2023-01-01", "--json", **_list(trust)
        )
    )
    assert {(c["kid"], c["change"]) for c in everything["changes"]} == {
        (KIDS[0], "kept"),
        (KIDS[1], "kept"),
        ("other-1", "added"),
    }
    assert scan_statuses(tmp_path, trust)[0] == "invalid"  # signed in 2023-06, after the keys' expiry
    jwk = tmp_path / "facility.jwk"
    jwk.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=False) | {"kid": "fac-1"}), encoding="utf-8")
    facility = ok(
        kiosk(
            tmp_path,
            "trust",
            "add",
            "--facility-code",
            "79001",
            "--facility-name",
            "BV A",
            "--jwk",
            str(jwk),
            "--json",
            **_list(trust),
        )
    )
    assert facility["changes"][0]["facility_code"] == "79001"
    listed = ok(kiosk(tmp_path, "trust", "list", "--json", **_list(trust)))
    assert listed["facilities"] == [{"code": "79001", "name": "BV A"}]
    assert {k["kid"]: k["not_after"] for k in listed["keys"]}[KIDS[0]] == "2023-01-01T23:59:59.999999Z"


def test_mistakes_are_refused_in_words(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    assert "no trust list is named" in refused(kiosk(tmp_path, "trust", "list", "--json"))
    assert "does not exist" in refused(kiosk(tmp_path, "trust", "list", "--json", **_list(trust)))
    missing = kiosk(tmp_path, "trust", "add", "--issuer", SHC_ISSUER, "--json", **_list(trust))
    assert "--jwks" in refused(missing)
    plain = kiosk(
        tmp_path, "trust", "add", "--issuer", "http://x.example", "--jwks", str(JWKS), "--json", **_list(trust)
    )
    assert "not an https URL" in refused(plain)
    bad_date = kiosk(
        tmp_path,
        "trust",
        "add",
        "--issuer",
        SHC_ISSUER,
        "--jwks",
        str(JWKS),
        "--expires",
        "soon",
        "--json",
        **_list(trust),
    )
    assert "--expires" in refused(bad_date)
    rsa = tmp_path / "rsa.json"
    rsa.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}]}), encoding="utf-8")
    wrong = kiosk(tmp_path, "trust", "add", "--issuer", SHC_ISSUER, "--jwks", str(rsa), "--json", **_list(trust))
    assert "only EC P-256" in refused(wrong) and str(rsa) in refused(wrong)
    assert not trust.exists()
    text = kiosk(tmp_path, "trust", "list", **_list(trust))
    assert text.returncode == 1 and text.stderr.startswith("kiosk: ") and "Traceback" not in text.stderr


def _list(trust: Path) -> dict[str, str]:
    return {"KIOSK_TRUST_LIST": str(trust)}


def test_changes_made_at_once_are_all_kept(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    env = {
        **{k: v for k, v in os.environ.items() if k != "KIOSK_STAFF_ID"},
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        **_list(trust),
    }
    running = []
    for n in range(6):
        jwk = tmp_path / f"fac-{n}.jwk"
        jwk.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=False) | {"kid": f"fac-{n}"}))
        args = ["trust", "add", "--facility-code", f"7900{n}", "--facility-name", f"BV {n}", "--jwk", str(jwk)]
        command = [sys.executable, "-m", "kiosk.cli", *args, "--json"]
        running.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert [p.wait(timeout=60) for p in running] == [0] * 6
    listed = ok(kiosk(tmp_path, "trust", "list", "--json", **_list(trust)))
    assert sorted(k["kid"] for k in listed["keys"]) == [f"fac-{n}" for n in range(6)]
    assert len(audit(trust)) == 6
