"""A plain FHIR server (no `$match`, no `$summary`), an imported population, and the command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.trust.trust_list import TrustList
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import start_sandbox
from testkit.server import authorised_client

CCCD_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.CCCD)
IMPORTED = [
    {
        "resourceType": "Patient",
        "id": "ext-1",
        "identifier": [{"system": CCCD_SYSTEM, "value": "079190000001"}],
        "name": [{"family": "Trần", "given": ["Thị", "Mai"]}],
        "gender": "female",
        "birthDate": "1990-04-05",
        "address": [{"text": "Phường 3, Quận 5, TP. Hồ Chí Minh"}],
    },
    {"resourceType": "Patient", "name": [{"family": "Lê", "given": ["Văn", "Tám"]}], "birthDate": "1961"},
]


def test_switched_off_operations_and_import(tmp_path: Path) -> None:
    source = tmp_path / "patients.ndjson"
    source.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in IMPORTED) + "\n", encoding="utf-8")
    config = SandboxConfig(
        db_path=tmp_path / "plain.sqlite",
        population=200,
        import_path=source,
        demo_clients=True,
        supports_match=False,
        supports_summary=False,
    )
    with start_sandbox(config) as sandbox, authorised_client(sandbox.base_url, "demo-er") as er:
        capability = httpx.get(f"{sandbox.base_url}/metadata").json()
        assert capability["rest"][0]["operation"] == []
        patient_operations = {o["name"] for o in capability["rest"][0]["resource"][0]["operation"]}
        assert patient_operations == {"link-identity", "unlink-identity"}
        body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": IMPORTED[0]}]}
        for response in (er.post("Patient/$match", json=body), er.get("Patient/p1/$summary")):
            assert response.status_code == 404
            assert response.json()["issue"][0]["code"] == "not-supported"
        found = er.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|079190000001"}).json()
        assert [e["resource"]["id"] for e in found["entry"]] == ["ext-1"]
        by_state = er.get("Patient", params={"family": "tran", "address-state": "Hồ Chí Minh", "gender": "female"})
        assert "ext-1" in [e["resource"]["id"] for e in by_state.json()["entry"]]
        by_year = er.get("Patient", params={"given": "tam", "birthdate": "1961"}).json()
        assert any(e["resource"]["name"][0]["family"] == "Lê" for e in by_year["entry"])
        assert er.get("Patient", params={"_count": "1"}).json()["total"] == 202
    with start_sandbox(config) as again, authorised_client(again.base_url, "demo-er") as er:
        assert er.get("Patient", params={"_count": "1"}).json()["total"] == 202  # restarted: nothing loaded twice


def test_bad_import_line_is_named_without_content(tmp_path: Path) -> None:
    source = tmp_path / "bad.ndjson"
    source.write_text('{"resourceType": "Observation"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: not a FHIR Patient"):
        start_sandbox(SandboxConfig(db_path=tmp_path / "bad.sqlite", import_path=source))


def test_command_line_writes_the_trust_list_and_serves(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sandbox", "--port", "0", "--db", str(tmp_path / "cli.sqlite"),
         "--synthetic", "100", "--demo-clients", "--trust-list-out", str(trust), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        facts = json.loads(process.stdout.readline())
        assert facts["patients"] == 100
        assert facts["demo_clients"] == ["demo-admin", "demo-er", "demo-lobby", "demo-reception"]
        keys = TrustList.load(trust)
        assert len(keys.facility_keys()) >= 10
        assert all("d" not in json.loads(trust.read_text())["keys"][i] for i in range(len(keys)))
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_command_line_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "sandbox", "--port", str(port), "--db", str(tmp_path / "x.sqlite"),
             "--synthetic", "10", "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert "cannot listen" in json.loads(done.stdout)["error"]
    assert not (tmp_path / "x.sqlite").exists()


def test_command_line_replaces_an_earlier_trust_list(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with start_sandbox(SandboxConfig(db_path=tmp_path / "old.sqlite", population=20), trust_list_path=trust):
        old = TrustList.load(trust)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sandbox", "--port", "0", "--db", str(tmp_path / "new.sqlite"),
         "--synthetic", "20", "--trust-list-out", str(trust), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["trust_list"] == str(trust)
        new = TrustList.load(trust)
        # Another database, other keys: the earlier list was replaced, not kept.
        assert {k.kid for k in new.facility_keys()}.isdisjoint({k.kid for k in old.facility_keys()})
    finally:
        process.terminate()
        process.wait(timeout=10)
