"""`kiosk serve` against a hostile web page and strangers on the network: nobody opens a session of the kiosk app
without the key `kiosk serve` printed, no page of another origin opens one even in the kiosk's own (signed-in)
browser, sessions are capped and a closed one ends its process, and another address than loopback needs TLS and a
key from the settings.

Every refusal is checked where it matters: no `kiosk.cli run` process was started for it (read from /proc).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import sync_playwright

from testkit.serve import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    ServedKiosk,
    free_port,
    gone,
    serve_env,
    served_kiosk,
    until,
)

SECRET = "correct-horse-battery-staple-kiosk"  # a key from the settings (at least 16 characters)

# The attacker's page: open the kiosk's websocket and report whether it opened and what came back.
ATTACK_PAGE = """<!doctype html><title>cat pictures</title><script>
window.attempt = (url) => new Promise((resolve) => {
  const seen = {opened: false, frames: 0, code: null};
  const ws = new WebSocket(url);
  ws.onopen = () => { seen.opened = true; ws.send(JSON.stringify(["stdin", "079085001234\\r"])); };
  ws.onmessage = () => { seen.frames += 1; ws.close(); resolve(seen); };
  ws.onclose = (event) => { seen.code = event.code; resolve(seen); };
  setTimeout(() => resolve(seen), 20000);  // an upper bound only; open, data or close come long before
});
</script>"""


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedKiosk]:
    """`kiosk serve` on loopback with a generated key; the app's server is never reached by these tests."""
    tmp = tmp_path_factory.mktemp("serve")
    with served_kiosk(serve_env(tmp, server=f"http://127.0.0.1:{free_port()}/fhir")) as served:
        yield served


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    """A web page on another port of 127.0.0.1: another origin, but the same site as the kiosk."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ATTACK_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_origin_cannot_open_a_session_even_in_the_signed_in_browser(
    kiosk: ServedKiosk, attacker: str
) -> None:
    assert CHROMIUM.exists(), "Debian's chromium package is needed (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            # The kiosk's browser has signed in: its cookie would go with any request to 127.0.0.1 (same site).
            context.request.get(kiosk.open_url, max_redirects=0)
            page = context.new_page()
            page.goto(attacker)
            seen = page.evaluate(f"attempt('ws://127.0.0.1:{kiosk.port}/ws?width=80&height=24')")
            assert seen["opened"] is False, "a page of another origin opened the kiosk's websocket"
            assert seen["frames"] == 0
            assert kiosk.app_processes() == set(), "an app process started for a page of another origin"
            # The server's log is read by a thread of its own: the line may come a moment after the refusal.
            logged = until(lambda: any("another origin" in line for line in kiosk.lines), 10)
            assert logged, "refused, but not for its origin"
            assert [c["name"] for c in context.cookies()] == [f"kiosk-serve-{kiosk.port}"]
            assert all(c["httpOnly"] and c["sameSite"] == "Strict" for c in context.cookies())
        finally:
            browser.close()


async def _sign_in(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    """Open the printed address; its status and the `name=value` of the cookie it set (empty if none)."""
    async with session.get(url, allow_redirects=False) as response:
        return response.status, response.headers.get("Set-Cookie", "").split(";")[0]


async def _handshake(session: aiohttp.ClientSession, url: str, *, origin: str | None, cookie: str) -> int:
    """The status a websocket handshake gets: 101 when it opens (then closed again at once)."""
    headers = {"Cookie": cookie} if cookie else {}
    try:
        websocket = await session.ws_connect(url, origin=origin, headers=headers)
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status
    await websocket.close()
    return 101


async def test_without_the_key_the_page_and_the_websocket_are_refused(kiosk: ServedKiosk) -> None:
    base, origin = f"http://127.0.0.1:{kiosk.port}", f"http://127.0.0.1:{kiosk.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/") as index:
            assert index.status == 401, "the app's page was served without the key"
            assert "access key" in await index.text()
        async with session.get(f"{base}/?key=not-the-key", allow_redirects=False) as wrong:
            assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
        assert await _handshake(session, f"{base}/ws", origin=origin, cookie="") == 401
        forged = f"kiosk-serve-{kiosk.port}=guessed"
        assert await _handshake(session, f"{base}/ws", origin=origin, cookie=forged) == 401

        status, cookie = await _sign_in(session, kiosk.open_url)
        assert status == 303
        async with session.get(kiosk.open_url, allow_redirects=False) as signed_in:
            assert signed_in.headers["Location"] == "/", "the key stayed in the address"
            flags = signed_in.headers["Set-Cookie"].lower()
            assert "httponly" in flags and "samesite=strict" in flags
            assert kiosk.open_url.split("key=")[1] not in signed_in.headers["Set-Cookie"]
        async with session.get(f"{base}/", headers={"Cookie": cookie}) as index:
            assert index.status == 200
    assert kiosk.app_processes() == set()
    assert not any("key=" in line for line in kiosk.lines[1:]), "the key reached the log"


async def test_the_websocket_origin_is_pinned_even_with_the_cookie(kiosk: ServedKiosk) -> None:
    url = f"http://127.0.0.1:{kiosk.port}/ws"
    async with aiohttp.ClientSession() as session:
        _, cookie = await _sign_in(session, kiosk.open_url)
        for origin in (f"http://127.0.0.1:{free_port()}", f"http://localhost:{kiosk.port}", "null", None):
            assert await _handshake(session, url, origin=origin, cookie=cookie) == 403, origin
    assert kiosk.app_processes() == set()


async def test_sessions_are_capped_and_a_closed_one_ends_its_process(kiosk: ServedKiosk) -> None:
    base, origin = f"http://127.0.0.1:{kiosk.port}", f"http://127.0.0.1:{kiosk.port}"
    async with aiohttp.ClientSession() as session:
        _, cookie = await _sign_in(session, kiosk.open_url)
        headers = {"Cookie": cookie}

        async def open_session() -> aiohttp.ClientWebSocketResponse:
            websocket = await session.ws_connect(f"{base}/ws", origin=origin, headers=headers)
            first = await websocket.receive(timeout=30)  # the app has started and drawn
            assert first.type is aiohttp.WSMsgType.BINARY, first
            return websocket

        sessions = [await open_session(), await open_session()]
        running = kiosk.app_processes()
        assert len(running) == 2
        assert await _handshake(session, f"{base}/ws", origin=origin, cookie=cookie) == 503, "no cap on sessions"
        async with session.get(f"{base}/", headers=headers) as index:
            assert index.status == 503 and "2 sessions" in await index.text()
        assert kiosk.app_processes() == running

        await sessions.pop(0).close()
        one_left = await asyncio.to_thread(until, lambda: len(kiosk.app_processes()) == 1, 15)
        assert one_left, "closing a session did not end its process"
        assert await asyncio.to_thread(gone, running - kiosk.app_processes(), 5), "its process was never waited for"
        sessions.append(await _open_when_free(open_session))
        for websocket in sessions:
            await websocket.close()
    assert await asyncio.to_thread(gone, running | kiosk.app_processes(), 15)


async def _open_when_free(
    open_session: Callable[[], Awaitable[aiohttp.ClientWebSocketResponse]],
) -> aiohttp.ClientWebSocketResponse:
    """The slot is counted free just after the process is reaped (a moment after it leaves /proc); allow that."""
    for _ in range(40):
        try:
            return await open_session()
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 503
            await asyncio.sleep(0.05)
    raise AssertionError("a closed session's slot was never freed")


@pytest.mark.parametrize(
    ("tls", "secret", "missing"),
    [
        (False, False, "TLS (serve_tls_cert, serve_tls_key) and serve_secret"),
        (False, True, "TLS (serve_tls_cert, serve_tls_key)"),
        (True, False, "serve_secret"),
    ],
)
def test_another_address_needs_tls_and_a_key_from_the_settings(
    tmp_path: Path, tls: bool, secret: bool, missing: str
) -> None:
    extra = (_tls_files(tmp_path) if tls else {}) | ({"serve_secret": SECRET} if secret else {})
    env = serve_env(tmp_path, server="http://127.0.0.1:9/fhir", **extra)
    command = [sys.executable, "-m", "kiosk.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("kiosk serve started on 0.0.0.0 without TLS and a key from the settings") from None
    assert process.returncode != 0
    assert f"refusing to serve on 0.0.0.0: an address other than loopback needs {missing} in the settings" in err
    assert "Traceback" not in err


async def test_with_tls_and_a_key_from_the_settings_it_serves_wss_off_loopback(tmp_path: Path) -> None:
    port = free_port()
    files = _tls_files(tmp_path)
    origin = f"https://127.0.0.1:{port}"
    env = serve_env(tmp_path, server="http://127.0.0.1:9/fhir", serve_secret=SECRET, serve_public_url=origin, **files)
    trust = ssl.create_default_context(cafile=files["serve_tls_cert"])
    with served_kiosk(env, "--host", "0.0.0.0", port=port) as kiosk:
        assert kiosk.open_url == f"{origin}/?key=<serve_secret>"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as session:
            async with session.get(f"{origin}/?key={SECRET}", allow_redirects=False) as signed_in:
                assert signed_in.status == 303
                assert "secure" in signed_in.headers["Set-Cookie"].lower()
                cookie = signed_in.headers["Set-Cookie"].split(";")[0]
            async with session.get(f"{origin}/", headers={"Cookie": cookie}) as index:
                assert f"wss://127.0.0.1:{port}/ws" in await index.text()
            assert await _handshake(session, f"{origin}/ws", origin=f"http://127.0.0.1:{port}", cookie=cookie) == 403
            websocket = await session.ws_connect(f"{origin}/ws", origin=origin, headers={"Cookie": cookie})
            assert (await websocket.receive(timeout=30)).type is aiohttp.WSMsgType.BINARY
            (app,) = kiosk.app_processes()
            # The key never reaches the app: not on its command line, not in its environment.
            assert SECRET.encode() not in _command_line_and_environment(app)
            await websocket.close()
        assert await asyncio.to_thread(gone, {app}, 15)
        assert not any(SECRET in line for line in kiosk.lines)


def _command_line_and_environment(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()


def _tls_files(folder: Path) -> dict[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, as the `serve_tls_*` settings."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "kiosk.crt", folder / "kiosk.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {"serve_tls_cert": str(cert_path), "serve_tls_key": str(key_path)}
