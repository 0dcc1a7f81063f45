"""SMART Health Links from a hostile host: the passcode never follows a redirect, one deadline bounds the whole link,
and the manifest, the number of files, each file and its decompressed content are capped while they stream in.

Each host here is a real server on a real socket (`hostile`), recording what reaches it and how much of what it sent
the kiosk took.
"""

from __future__ import annotations

import base64
import json
import os
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwe
from joserfc.jwk import OctKey

from lookup.domain.model import LookupStatus
from lookup.health_links.link import ShlError, ShlLink, parse_link
from lookup.health_links.retrieval import ShlFile, retrieve
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from tests.security.hostile import Reply, Seen, address_off_loopback, hostile

RAW_KEY = os.urandom(32)
KEY = base64.urlsafe_b64encode(RAW_KEY).decode().rstrip("=")
PASSCODE = "731904"
PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Trần", "given": ["Văn", "Bình"]}]}
BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": PATIENT}]}
MB = 1024 * 1024


def encrypted(plaintext: bytes, *, deflate: bool = False) -> bytes:
    """One shared file as a link's host keeps it: compact JWE, dir + A256GCM, optionally `zip: DEF`."""
    header = {"alg": "dir", "enc": "A256GCM", "cty": "application/fhir+json"} | ({"zip": "DEF"} if deflate else {})
    registry = jwe.JWERegistry(algorithms=["dir", "A256GCM", "DEF"])
    registry.max_ciphertext_length = 64 * MB
    return jwe.encrypt_compact(header, plaintext, OctKey.import_key(RAW_KEY), registry=registry).encode()


FILE = encrypted(json.dumps(BUNDLE).encode())


def link_to(url: str, flag: str = "P") -> ShlLink:
    payload = base64.urlsafe_b64encode(json.dumps({"url": url, "key": KEY, "flag": flag}).encode()).decode()
    return parse_link("shlink:/" + payload.rstrip("="))


def _manifest(files: list[dict[str, Any]]) -> Reply:
    return Reply.json(200, {"files": files})


def _nothing(_: Seen) -> Reply:
    return _manifest([])


async def _retrieve(link: ShlLink, **kw: Any) -> list[ShlFile] | ShlError:
    try:
        return await retrieve(link, recipient="kiosk test", **kw)
    except ShlError as exc:
        return exc


@pytest.fixture
def thief() -> Iterator[Any]:
    """Another host, ready to take whatever follows a redirect to it."""
    with hostile(_nothing) as server:
        yield server


# -- redirects ----------------------------------------------------------------------------------------------------


async def test_a_307_never_repeats_the_passcode_to_another_host(thief: Any) -> None:
    with hostile(lambda seen: Reply(307, {"Location": thief.url("/steal")})) as host:
        link = link_to(host.url("/manifest"))
        result = await _retrieve(link, passcode=PASSCODE)
        service = LookupService(ServerConfig(base_url="http://127.0.0.1:9/fhir"), trust=TrustList.empty())
        try:
            outcome = await service.by_link("shlink:/" + _payload(host.url("/manifest")), passcode=PASSCODE)
        finally:
            await service.aclose()
    assert not [s for s in thief.seen if PASSCODE.encode() in s.body], "the passcode was posted to another host"
    assert thief.connections == 0
    assert isinstance(result, ShlError) and result.kind == "redirected"
    assert str(result) == "the link's host redirected the manifest request; the passcode was not sent on"
    assert outcome.status is LookupStatus.REFUSED and outcome.message == str(result)


def _payload(url: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"url": url, "key": KEY, "flag": "P"}).encode()).decode().rstrip("=")


async def test_a_file_follows_a_redirect_on_its_own_host_only(thief: Any) -> None:
    def answer(seen: Seen) -> Reply:
        if seen.path == "/manifest":
            return _manifest([{"location": host.url("/moved")}, {"location": host.url("/away")}])
        if seen.path == "/moved":
            return Reply(302, {"Location": "/file"})
        if seen.path == "/away":
            return Reply(302, {"Location": thief.url("/file")})
        return Reply(200, {"Content-Type": "application/jose"}, FILE)

    with hostile(answer) as host:
        result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
    assert thief.connections == 0 and not thief.seen
    assert [s.path for s in host.seen] == ["/manifest", "/moved", "/file", "/away"]
    assert isinstance(result, ShlError) and result.kind == "redirected"
    assert str(result) == "the link's host redirected to another host; not followed"


# -- one deadline -------------------------------------------------------------------------------------------------


def _drip(seen: Seen) -> Reply:
    def body() -> Iterator[bytes]:
        for _ in range(40):  # 12 s of one space every 0.3 s: each read is quick, the whole is not
            time.sleep(0.3)
            yield b" "
        yield b'{"files": []}'

    return Reply(200, {"Content-Type": "application/json"}, body())


async def test_a_slow_host_is_bounded_by_one_deadline_for_the_whole_link() -> None:
    with hostile(_drip) as host:
        started = time.monotonic()
        result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE, timeout_s=2.0)
        took = time.monotonic() - started
        service = LookupService(
            ServerConfig(base_url="http://127.0.0.1:9/fhir", timeout_s=2.0), trust=TrustList.empty()
        )
        started = time.monotonic()
        try:
            outcome = await service.by_link("shlink:/" + _payload(host.url("/manifest")), passcode=PASSCODE)
        finally:
            await service.aclose()
        service_took = time.monotonic() - started
    assert took < 3.0, f"the link took {took:.1f} s with a 2 s timeout"
    assert isinstance(result, ShlError) and result.kind == "unreachable"
    assert str(result) == "the link's host did not deliver the shared files within 2 s"
    assert service_took < 3.0 and outcome.status is LookupStatus.OFFLINE


# -- caps ---------------------------------------------------------------------------------------------------------


async def test_a_manifest_of_3000_files_is_refused_without_fetching_them() -> None:
    def answer(seen: Seen) -> Reply:
        if seen.path == "/manifest":
            return _manifest([{"location": host.url(f"/file/{i}")} for i in range(3000)])
        return Reply(200, {"Content-Type": "application/jose"}, FILE)

    with hostile(answer) as host:
        result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
    fetched = [s for s in host.seen if s.path.startswith("/file/")]
    assert not fetched, f"{len(fetched)} files fetched from a manifest that lists 3,000"
    assert isinstance(result, ShlError) and result.kind == "too-large"
    assert str(result) == "the link's manifest lists 3000 files; the kiosk reads at most 20"


async def test_a_huge_file_is_dropped_while_it_streams_in() -> None:
    chunk = b"A" * (64 * 1024)

    def answer(seen: Seen) -> Reply:
        if seen.path == "/manifest":
            return _manifest([{"location": host.url("/huge")}])
        return Reply(200, {"Content-Type": "application/jose"}, (chunk for _ in range(50 * MB // len(chunk))))

    with hostile(answer) as host:
        tracemalloc.start()
        try:
            result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE, timeout_s=20.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        host.wait_idle()  # the server's writer has met the closed socket
        sent = host.bytes_sent
    assert sent < 16 * MB, f"the kiosk took {sent / MB:.0f} MB of a 50 MB file"
    assert peak < 16 * MB, f"memory grew by {peak / MB:.0f} MB"
    assert isinstance(result, ShlError) and result.kind == "too-large"
    assert str(result) == "a shared file is larger than 5 MB; not read"


async def test_a_declared_300_mb_file_and_a_huge_manifest_are_refused_unread() -> None:
    def answer(seen: Seen) -> Reply:
        if seen.path == "/manifest":
            return _manifest([{"location": host.url("/declared")}])
        if seen.path == "/big-manifest":
            return Reply(200, {"Content-Type": "application/json"}, (b" " * MB for _ in range(30)))
        return Reply(200, {"Content-Length": str(300 * MB)}, (b"A" * MB for _ in range(300)))

    with hostile(answer) as host:
        declared = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE, timeout_s=20.0)
        manifest = await _retrieve(link_to(host.url("/big-manifest")), passcode=PASSCODE, timeout_s=20.0)
        host.wait_idle()
        sent = host.bytes_sent
    assert sent < 40 * MB, f"the kiosk took {sent / MB:.0f} MB"
    assert isinstance(declared, ShlError) and str(declared) == "a shared file is larger than 5 MB; not read"
    assert isinstance(manifest, ShlError) and str(manifest) == "the link's manifest is larger than 4 MB; not read"


async def test_compressed_files_are_read_and_a_decompression_bomb_is_not() -> None:
    small = encrypted(json.dumps(BUNDLE).encode(), deflate=True)
    bomb = encrypted(b" " * (100 * MB), deflate=True)  # some 130 kB that inflate to 100 MB
    assert len(bomb) < MB

    def answer(seen: Seen) -> Reply:
        return _manifest([{"embedded": small.decode()}, {"embedded": bomb.decode()}])

    with hostile(answer) as host:
        tracemalloc.start()
        try:
            result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 40 * MB, f"memory grew by {peak / MB:.0f} MB"
    assert isinstance(result, ShlError) and result.kind == "too-large"
    assert str(result) == "a shared file decompresses to more than 8 MB; not read"

    def one(seen: Seen) -> Reply:
        return _manifest([{"embedded": small.decode()}])

    with hostile(one) as host:
        files = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
    assert isinstance(files, list) and [f.content for f in files] == [BUNDLE]


async def test_files_each_under_the_cap_still_may_not_add_up_past_the_total() -> None:
    six = encrypted(b'{"resourceType": "Binary", "data": "' + b"A" * (6 * MB) + b'"}', deflate=True).decode()

    def answer(seen: Seen) -> Reply:
        return _manifest([{"embedded": six} for _ in range(4)])

    with hostile(answer) as host:
        result = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
    assert isinstance(result, ShlError) and result.kind == "too-large"
    assert str(result) == "the link's files add up to more than 16 MB; not read"


# -- https only ---------------------------------------------------------------------------------------------------


async def test_plain_http_off_this_machine_is_refused_for_the_link_and_its_files() -> None:
    address = address_off_loopback()
    with hostile(_nothing, host=address or "127.0.0.1") as remote:
        remote_url = remote.url("/manifest") if address else "http://links.kiosk.example/manifest"
        direct = await _retrieve(link_to(remote_url), passcode=PASSCODE)

        def answer(seen: Seen) -> Reply:
            return _manifest([{"location": remote_url.replace("/manifest", "/file")}])

        with hostile(answer) as host:
            located = await _retrieve(link_to(host.url("/manifest")), passcode=PASSCODE)
    assert remote.connections == 0 and not remote.seen, "the kiosk fetched a link over plain http"
    for result in (direct, located):
        assert isinstance(result, ShlError) and result.kind == "insecure"
        assert str(result) == "the SMART Health Link uses a plain http address; only https is accepted"
