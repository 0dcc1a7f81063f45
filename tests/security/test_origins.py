"""Origin pinning, tried as a hostile FHIR server would: credentials and tokens go only to the configured server.

A metadata naming a token endpoint on another origin gets no client secret; a `next` link or a redirect to another
origin gets no bearer token (nothing at all: the kiosk does not connect); plain http to a server off this machine
is refused before any connection unless the operator allows it, and `kiosk doctor` says so in red either way.
Each "other origin" is a real second server on its own port, recording what reaches it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk.output import CommandError
from kiosk.settings import Mode, load_settings
from kiosk.wiring import build_services
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier, LookupStatus
from lookup.fhir.capabilities import OAUTH_URIS_URL
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from tests.lookup.conftest import CARD
from tests.lookup.fhirserver import Faulty, serve
from tests.security.hostile import Hostile, Reply, Seen, address_off_loopback, hostile

SECRET = "kiosk-secret-7f3a"
WHO = Identifier(system=DEFAULT_TABLE.system(IdentifierKind.CCCD), value=CARD)


def _nothing(_: Seen) -> Reply:
    return Reply.json(200, {"access_token": "stolen", "token_type": "bearer", "expires_in": 3600})


@pytest.fixture
def elsewhere() -> Iterator[Hostile]:
    """Another origin: the same machine, another port."""
    with hostile(_nothing) as server:
        yield server


@dataclass
class ForeignToken(Faulty):
    """Publishes a token endpoint on another origin in its (unauthenticated) CapabilityStatement."""

    token_url: str = ""

    def capability(self) -> dict[str, Any]:
        statement = super().capability()
        statement["rest"][0]["security"] = {
            "extension": [{"url": OAUTH_URIS_URL, "extension": [{"url": "token", "valueUri": self.token_url}]}]
        }
        return statement


@dataclass
class ForeignNext(Faulty):
    """A plain FHIR server (documents by Bundle search) whose searchset pages on to another origin."""

    next_url: str = ""

    def route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, payload, extra = super().route(method, path, query, headers, body)
        if path == "Bundle" and status == 200:
            payload["link"] = [{"relation": "next", "url": self.next_url}]
        return status, payload, extra


def _service(base: str) -> LookupService:
    config = ServerConfig(base_url=base, client_id="demo-er", client_secret=SECRET, timeout_s=2.0, retries=0)
    return LookupService(config, trust=TrustList.empty())


async def test_a_token_endpoint_on_another_origin_gets_no_credentials(elsewhere: Hostile) -> None:
    app = ForeignToken(token_url=elsewhere.url("/auth/token"))
    app.add("p1", CARD)
    with serve(app) as base:
        service = _service(base)
        try:
            outcome = await service.by_identifier(WHO)
        finally:
            await service.aclose()
    assert not [s for s in elsewhere.seen if SECRET.encode() in s.body], "the client secret went to another origin"
    assert elsewhere.connections == 0
    assert outcome.status is LookupStatus.REFUSED and outcome.patient is None and outcome.summary is None
    assert outcome.message == (
        "the server's metadata names a token endpoint on another host; credentials were not sent"
    )
    assert not [r for r in app.requests if r.startswith("GET Patient")], "a lookup went on without a token"


async def test_a_next_link_to_another_origin_gets_no_bearer_token(elsewhere: Hostile) -> None:
    app = ForeignNext(with_summary=False, next_url=elsewhere.url("/fhir/Bundle?page=2"))
    app.add("p1", CARD)
    with serve(app) as base:
        service = _service(base)
        try:
            outcome = await service.by_identifier(WHO)
        finally:
            await service.aclose()
    leaked = [s.headers.get("authorization") for s in elsewhere.seen if "authorization" in s.headers]
    assert not leaked, "the bearer token went to another origin"
    assert elsewhere.connections == 0
    assert outcome.status is LookupStatus.REFUSED and outcome.summary is None
    assert outcome.message is not None and "outside its own base URL" in outcome.message


@pytest.mark.parametrize("where", ["/other/Bundle?page=2", "/fhir/../other/Bundle?page=2"])
async def test_a_next_link_on_the_same_host_outside_the_base_is_refused_too(where: str) -> None:
    app = ForeignNext(with_summary=False)
    app.add("p1", CARD)
    with serve(app) as base:
        app.next_url = base.removesuffix("/fhir") + where
        service = _service(base)
        try:
            outcome = await service.by_identifier(WHO)
        finally:
            await service.aclose()
    assert outcome.status is LookupStatus.REFUSED
    assert not [r for r in app.requests if "other" in r]


def _redirect_to(target: str) -> Any:
    def answer(seen: Seen) -> Reply:
        if seen.path.endswith("/metadata"):
            return Reply.json(404, {"resourceType": "OperationOutcome", "issue": []})
        if seen.path.endswith("/auth/token"):
            return Reply.json(200, {"access_token": "real-token", "token_type": "bearer", "expires_in": 3600})
        return Reply(307, {"Location": target + seen.path})

    return answer


async def test_a_redirect_never_carries_the_token_elsewhere(elsewhere: Hostile) -> None:
    with hostile(_redirect_to(elsewhere.origin)) as server:
        service = _service(server.url("/fhir"))
        try:
            outcome = await service.by_identifier(WHO)
        finally:
            await service.aclose()
    assert elsewhere.connections == 0 and not elsewhere.seen
    assert [s.headers.get("authorization") for s in server.seen if s.path.startswith("/fhir/Patient")] == [
        "Bearer real-token"
    ]
    # Not a silent "nobody carries this identifier": the clerk reads that the server redirected.
    assert outcome.status is LookupStatus.REFUSED
    assert outcome.message == "the server answered with a redirect (HTTP 307), which the kiosk does not follow"


# -- plain http off this machine ----------------------------------------------------------------------------------


def _off_machine_host() -> str:
    """A non-loopback address of this machine where it has one (a real server can listen there), else a name."""
    return address_off_loopback() or "kiosk.example"


def _kiosk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A real `kiosk` process with these settings (and no insecure flag from the surrounding environment)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=inherited | env,
    )


def test_plain_http_to_another_machine_is_refused_before_any_connection(tmp_path: Path) -> None:
    host = _off_machine_host()
    listening = host != "kiosk.example"
    with hostile(_nothing, host=host if listening else "127.0.0.1") as server:
        base = server.url("/fhir") if listening else "http://kiosk.example/fhir"
        env = {
            "KIOSK_SERVER": base,
            "KIOSK_CLIENT_ID": "demo-er",
            "KIOSK_CLIENT_SECRET": SECRET,
            "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
            "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        }
        looked_up = _kiosk("lookup", "--identifier", WHO.token, "--json", "--no-cache", env=env)
        assert looked_up.returncode != 0, looked_up.stdout
        error = json.loads(looked_up.stdout.splitlines()[-1])["error"]
        assert "plain http" in error and "KIOSK_INSECURE_HTTP" in error
        assert server.connections == 0 and not server.seen, "the kiosk connected over plain http"

        settings = load_settings(server=base, mode=Mode.ER, cache_dir=tmp_path / "cache", config_file=None)
        with pytest.raises(CommandError, match="plain http"):
            build_services(settings)
        with pytest.raises(ValueError, match="plain http"):
            ServerConfig(base_url=base)

        doctor = _kiosk("doctor", "--json", "--timeout", "1", env=env)
        checks = {c["name"]: c for c in map(json.loads, doctor.stdout.splitlines()) if "name" in c}
        assert checks["server"]["status"] == "error" and "plain http" in checks["server"]["detail"]
        assert server.connections == 0

        allowed = {**env, "KIOSK_INSECURE_HTTP": "1"}
        doctor = _kiosk("doctor", "--json", "--timeout", "1", env=allowed)
        checks = {c["name"]: c for c in map(json.loads, doctor.stdout.splitlines()) if "name" in c}
        assert checks["server"]["status"] == "error"
        assert checks["server"]["detail"].startswith(
            "plain http allowed by KIOSK_INSECURE_HTTP: records and credentials travel unencrypted"
        )
        build_services(settings.model_copy(update={"insecure_http": True}))
        if listening:
            # The operator's explicit choice is honoured (and the doctor's probe reached the server).
            assert server.connections >= 1


def test_loopback_and_https_need_no_flag_and_look_alikes_do() -> None:
    for base in (
        "http://127.0.0.1:8700/fhir",
        "http://127.8.9.10/fhir",
        "http://localhost:1/fhir",
        "http://[::1]/fhir",
    ):
        assert ServerConfig(base_url=base).allow_insecure_http is False
    ServerConfig(base_url="https://fhir.kiosk.example/fhir")
    for base in ("http://127.0.0.1.kiosk.example/fhir", "http://localhost.kiosk.example/fhir", "http://x.localhost/"):
        with pytest.raises(ValueError, match="plain http"):
            ServerConfig(base_url=base)
