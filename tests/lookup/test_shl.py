"""SMART Health Link retrieval against a real loopback HTTP server holding the public IPS test vector."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from lookup.domain.model import LookupStatus, ScanKind, ScanResult, SignatureStatus
from lookup.health_links.link import ShlError, ShlLink, parse_link
from lookup.health_links.retrieval import retrieve
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from scanners.payloads import interpret
from tests.lookup.fhirserver import Receive, Scope, Send, _send_raw, free_port, serve

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "fhir"
DETAILS = json.loads((SAMPLES / "IPS_IG-bundle-01-shl-details.json").read_text(encoding="utf-8"))
KEY: str = DETAILS["shlinkJsonPayload"]["key"]
ENCRYPTED = (SAMPLES / "IPS_IG-bundle-01-enc.txt").read_bytes()
PLAIN = json.loads((SAMPLES / "IPS_IG-bundle-01.json").read_text(encoding="utf-8"))


class LinkHost:
    """Serves the encrypted file directly (flag U) and through a passcode-protected manifest."""

    def __init__(self) -> None:
        self.base = ""
        self.recipients: list[str] = []
        self.attempts = 3

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/fhir/file":
            query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
            self.recipients.append(query.get("recipient", ""))
            await _send_raw(send, 200, ENCRYPTED, {"content-type": "application/jose"})
        elif path == "/fhir/manifest" and scope["method"] == "POST":
            request = orjson.loads(body)
            self.recipients.append(request.get("recipient", ""))
            if request.get("passcode") != "1234":
                self.attempts -= 1
                await _send_raw(send, 401, orjson.dumps({"remainingAttempts": self.attempts}))
                return
            files = [
                {"contentType": "application/fhir+json", "location": f"{self.base}/file"},
                {"contentType": "application/fhir+json", "embedded": ENCRYPTED.decode()},
            ]
            await _send_raw(send, 200, orjson.dumps({"files": files}))
        else:
            await _send_raw(send, 404, b"{}")


def link_text(url: str, flag: str) -> str:
    return "https://viewer.example/#" + payload_text(url=url, flag=flag, key=KEY, label="test")


def payload_text(**payload: Any) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"shlink:/{encoded}"


@pytest.fixture(scope="module")
def host() -> Iterator[tuple[LinkHost, str]]:
    app = LinkHost()
    with serve(app) as base:
        app.base = base
        yield app, base


async def test_direct_file_link_decrypts_to_the_published_bundle(host: tuple[LinkHost, str]) -> None:
    app, base = host
    link = parse_link(link_text(f"{base}/file", "LU"))
    files = await retrieve(link, recipient="kiosk test")
    assert [f.content for f in files] == [PLAIN]
    assert app.recipients[-1] == "kiosk+test" or app.recipients[-1] == "kiosk%20test"
    assert KEY not in repr(link)


async def test_manifest_with_passcode_location_and_embedded_files(host: tuple[LinkHost, str]) -> None:
    _, base = host
    link = parse_link(link_text(f"{base}/manifest", "P"))
    with pytest.raises(ShlError) as missing:
        await retrieve(link, recipient="kiosk")
    assert missing.value.kind == "passcode"
    with pytest.raises(ShlError) as wrong:
        await retrieve(link, recipient="kiosk", passcode="0000")
    assert wrong.value.kind == "passcode" and "attempts left" in str(wrong.value)
    files = await retrieve(link, recipient="kiosk", passcode="1234")
    assert [f.content for f in files] == [PLAIN, PLAIN]


async def test_wrong_key_and_unreachable_host_are_clear_errors(host: tuple[LinkHost, str]) -> None:
    _, base = host
    bad = ShlLink(url=f"{base}/file", key=SecretStr("A" * 43), flag="U")
    with pytest.raises(ShlError) as undecryptable:
        await retrieve(bad, recipient="kiosk")
    assert undecryptable.value.kind == "decrypt"
    gone = parse_link(link_text(f"http://127.0.0.1:{free_port()}/file", "U"))
    with pytest.raises(ShlError) as unreachable:
        await retrieve(gone, recipient="kiosk")
    assert unreachable.value.kind == "unreachable"


async def test_scanning_a_link_gives_a_summary_of_its_document(host: tuple[LinkHost, str]) -> None:
    _, base = host
    text = link_text(f"{base}/file", "LU")
    scan = ScanResult(format="QRCode", text=text, decoder="zxing-cpp", kind=ScanKind.SHL)
    service = LookupService(ServerConfig(base_url=base), trust=TrustList.empty())
    steps: list[Any] = []
    try:
        outcome = await service.by_scan(scan, progress=steps.append)
    finally:
        await service.aclose()
    assert outcome.status is LookupStatus.FOUND
    assert outcome.patient is not None and outcome.patient.demographics.family == "DeLarosa"
    assert outcome.summary is not None and len(outcome.summary.allergies) == 2
    assert outcome.summary.documents[0].signature.status is SignatureStatus.UNSIGNED
    assert [(s.name, s.state) for s in steps][:2] == [("link", "started"), ("link", "done")]


def test_the_published_link_is_read_and_its_key_never_shown() -> None:
    for text in (DETAILS["shlink"], DETAILS["shlinkBare"]):
        link = parse_link(text)
        assert link.url == DETAILS["shlinkJsonPayload"]["url"]
        assert link.key.get_secret_value() == KEY
        assert link.flag == "LU" and link.direct and link.label == "Demo SHL for IPS_IG-bundle-01"
        assert KEY not in repr(link) and KEY not in str(link)


REFUSED = {
    "lower-case flag": ({"flag": "lu"}, "flag is not a string of capital letters"),
    "label over 80 characters": ({"label": "x" * 81}, "label is not a short string"),
    "label not text": ({"label": 7}, "label is not a short string"),
    "version not an integer": ({"v": "1"}, "version is not a number"),
    "expiry not a number": ({"exp": "tomorrow"}, "expiry is not a timestamp"),
    "expiry after the year 9999": ({"exp": 10**12}, "expiry is not a timestamp"),
    "url not text": ({"url": "https://x.example/\ud800"}, "url or label is not valid text"),
}


@pytest.mark.parametrize(("fields", "problem"), REFUSED.values(), ids=list(REFUSED))
async def test_scanner_and_lookup_refuse_a_malformed_link_by_one_rule(fields: dict[str, Any], problem: str) -> None:
    text = payload_text(**({"url": f"http://127.0.0.1:{free_port()}/manifest", "key": KEY} | fields))
    with pytest.raises(ShlError) as refused:
        parse_link(text)
    message = str(refused.value)
    assert refused.value.kind == "invalid-link" and problem in message and KEY not in message
    scan = interpret(text, format="QRCode", decoder="zxing-cpp")
    assert scan.kind is ScanKind.UNKNOWN and scan.warnings == (message,)
    service = LookupService(ServerConfig(base_url="http://127.0.0.1:9/fhir"), trust=TrustList.empty())
    try:
        outcome = await service.by_link(text)
    finally:
        await service.aclose()
    assert outcome.status is LookupStatus.NOT_FOUND and outcome.message == message


async def test_expiry_is_an_aware_time_that_scan_and_retrieval_read_alike() -> None:
    text = payload_text(url=f"http://127.0.0.1:{free_port()}/manifest", key=KEY, exp=1_700_000_000)
    link = parse_link(text)
    assert link.exp == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert link.expired() and link.expired(link.exp) and not link.expired(link.exp - dt.timedelta(seconds=1))
    assert "the SMART Health Link has expired" in interpret(text).warnings
    with pytest.raises(ShlError) as expired:
        await retrieve(link, recipient="kiosk")
    assert expired.value.kind == "expired"
