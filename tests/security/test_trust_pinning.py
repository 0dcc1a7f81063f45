"""Attacks on the pinned trust list: a revoked key, a key pinned for one issuer speaking for another, a private key
smuggled in a directory snapshot, and a trust file others could rewrite."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from lookup.domain.model import SignatureStatus
from lookup.trust.trust_list import TrustList, TrustListError
from scanners.payloads.shc import parse_shc
from testkit.health_cards import signed_card

REPO = Path(__file__).resolve().parents[2]
FHIR = REPO / "tests" / "data" / "samples" / "fhir"
JWKS = FHIR / "jwks.json"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
CARD_00 = (FHIR / "example-00-f-qr-code-numeric-value-0.txt").read_text(encoding="utf-8").strip()
KID_00 = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
PATIENT = {"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": ["An"]}], "birthDate": "1990-01-01"}


def _trust(tmp_path: Path, *args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_STAFF_ID"}
    env |= {"KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"), "KIOSK_TRUST_LIST": str(tmp_path / "trust.json")}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "trust", *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        preexec_fn=None if umask is None else lambda: _set_umask(umask),
    )


def _set_umask(mask: int) -> None:
    os.umask(mask)


def test_a_card_from_a_revoked_key_is_invalid(tmp_path: Path) -> None:
    assert _trust(tmp_path, "add", "--issuer", SHC_ISSUER, "--jwks", str(JWKS)).returncode == 0
    before = parse_shc(CARD_00, TrustList.load(tmp_path / "trust.json"))
    assert before.signature.status is SignatureStatus.VALID
    assert _trust(tmp_path, "revoke", "--kid", KID_00, "--reason", "private key published").returncode == 0
    after = parse_shc(CARD_00, TrustList.load(tmp_path / "trust.json"))
    assert after.signature.status is SignatureStatus.INVALID
    assert after.signature.reason is not None and "private key published" in after.signature.reason
    # Pinning the issuer again (its JWKS still lists the key) does not bring the revoked key back.
    assert _trust(tmp_path, "add", "--issuer", SHC_ISSUER, "--jwks", str(JWKS)).returncode == 0
    again = parse_shc(CARD_00, TrustList.load(tmp_path / "trust.json"))
    assert again.signature.status is SignatureStatus.INVALID


def test_a_key_pinned_for_issuer_a_cannot_validate_a_card_claiming_issuer_b(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256")
    jwks = tmp_path / "a-jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False) | {"kid": "a-1"}]}), encoding="utf-8")
    assert _trust(tmp_path, "add", "--issuer", "https://a.example/shc", "--jwks", str(jwks)).returncode == 0
    trust = TrustList.load(tmp_path / "trust.json")
    forged = signed_card(key, PATIENT, kid="a-1", issuer="https://b.example/shc")
    reading = parse_shc(forged, trust)
    assert reading.signature.status is SignatureStatus.UNKNOWN_SIGNER
    assert reading.signature.issuer == "https://b.example/shc"
    # The example issuer's genuine card is not vouched for by issuer A's pin either.
    assert _trust(tmp_path, "add", "--issuer", "https://a.example/shc", "--jwks", str(JWKS)).returncode == 0
    assert parse_shc(CARD_00, TrustList.load(tmp_path / "trust.json")).signature.status is not SignatureStatus.VALID


def test_a_directory_snapshot_cannot_smuggle_a_private_key(tmp_path: Path) -> None:
    published = json.loads(JWKS.read_text(encoding="utf-8"))["keys"]
    private: dict[str, Any] = ECKey.generate_key("P-256").as_dict(private=True) | {"kid": "sneaky"}
    snapshot = {
        "issuerInfo": [
            {"issuer": {"iss": SHC_ISSUER, "name": "SMART example"}, "keys": published},
            {"issuer": {"iss": "https://evil.example/shc", "name": "Evil"}, "keys": [private]},
        ]
    }
    path = tmp_path / "vci_snapshot.json"
    path.write_text(json.dumps(snapshot), encoding="utf-8")
    result = _trust(tmp_path, "add", "--directory", str(path))
    assert result.returncode == 1 and "private key" in json.loads(result.stdout)["error"]
    assert not (tmp_path / "trust.json").exists()  # nothing half-imported
    with pytest.raises(
        TrustListError, match=r"issuerInfo\[1\] \(https://evil.example/shc\) keys\[0\]: holds a private"
    ):
        TrustList.from_jwks(snapshot, "trust.json")
    assert private["d"] not in result.stdout + result.stderr


def test_the_trust_file_is_not_world_writable_after_add(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text('{"keys": []}', encoding="utf-8")
    trust.chmod(0o666)
    assert _trust(tmp_path, "add", "--issuer", SHC_ISSUER, "--jwks", str(JWKS), umask=0).returncode == 0
    mode = stat.S_IMODE(trust.stat().st_mode)
    assert mode == 0o644 and not mode & (stat.S_IWOTH | stat.S_IWGRP)
    audit = trust.with_name("trust.json.audit.jsonl")
    assert not stat.S_IMODE(audit.stat().st_mode) & 0o077
