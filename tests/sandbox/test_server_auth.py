"""Tokens and scopes, enforced by the server: the lobby client is refused everything clinical."""

from __future__ import annotations

import httpx
import pytest

from sandbox.server.runner import RunningSandbox
from testkit.server import bearer_token


def test_token_and_wrong_secret(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.base_url}/auth/token"
    good = httpx.post(
        url, data={"grant_type": "client_credentials", "client_id": "demo-er", "client_secret": "demo-er"}
    )
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and "system/Bundle.read" in body["scope"]
    bad = httpx.post(url, data={"grant_type": "client_credentials", "client_id": "demo-er", "client_secret": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    grant = httpx.post(url, data={"grant_type": "password", "client_id": "demo-er", "client_secret": "demo-er"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_lobby_never_gets_clinical_scopes(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.base_url}/auth/token"
    form = {"grant_type": "client_credentials", "client_id": "demo-lobby", "client_secret": "demo-lobby"}
    asked = httpx.post(url, data=form | {"scope": "system/Bundle.read"})
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"
    granted = httpx.post(url, data=form).json()["scope"].split()
    assert "system/Bundle.read" not in granted and "system/Appointment.write" in granted
    every_read = httpx.post(url, data=form | {"scope": "system/*.read"}).json()["scope"].split()
    assert sorted(every_read) == ["system/Appointment.read", "system/HealthcareService.read", "system/Patient.read"]


def test_no_or_bad_token_is_401_operation_outcome(sandbox: RunningSandbox) -> None:
    plain = httpx.get(f"{sandbox.base_url}/Patient/p1")
    assert plain.status_code == 401
    assert plain.json()["resourceType"] == "OperationOutcome"
    assert plain.headers["content-type"].startswith("application/fhir+json")
    bad = httpx.get(f"{sandbox.base_url}/Patient/p1", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "path",
    ["Patient/p1/$summary", "Bundle?type=document&composition.subject=Patient/p1", "ServiceRequest?status=active",
     "Consent?patient=Patient/p1", "AuditEvent?patient=Patient/p1"],
)  # fmt: skip
def test_lobby_is_refused_clinical_data(lobby: httpx.Client, path: str) -> None:
    response = lobby.get(path)
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


def test_lobby_may_identify_and_read_appointments(
    lobby: httpx.Client, er: httpx.Client, sandbox: RunningSandbox
) -> None:
    identifier = er.get("Patient/p1").json()["identifier"][0]
    found = lobby.get("Patient", params={"identifier": f"{identifier['system']}|{identifier['value']}"})
    assert found.status_code == 200 and found.json()["entry"][0]["resource"]["id"] == "p1"
    assert lobby.get("Patient/p1").status_code == 403  # by id, the register could be walked through
    assert lobby.get("Appointment", params={"patient": "Patient/p1"}).status_code == 200
    narrowed = bearer_token(sandbox.base_url, "demo-er", scope="system/Patient.read")
    refused = httpx.get(f"{sandbox.base_url}/Patient/p1/$summary", headers={"Authorization": f"Bearer {narrowed}"})
    assert refused.status_code == 403
