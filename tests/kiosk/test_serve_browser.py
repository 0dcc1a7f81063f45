"""`kiosk serve` end to end: headless Chromium (Debian's package, never a downloaded browser) opens the served app,
types a CCCD scan into the terminal as a wedge scanner would, and sees the patient's name come back.

The terminal in the page draws on a canvas, so the test reads what the app sends over the page's websocket (the
terminal's output stream) rather than the page's text.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, sync_playwright

from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox, with_records

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")
POPULATION = 150
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


@pytest.fixture
def served(server: RunningSandbox, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "KIOSK_SERVER": server.base_url,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(server.trust_list_path),
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_MODE": "er",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("kiosk serve did not start listening") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _terminal_output(frames: list[str | bytes]) -> str:
    text = "".join(f.decode("utf-8", "ignore") if isinstance(f, bytes) else f for f in frames)
    return ANSI.sub("", text)


def _wait_for_output(page: Page, frames: list[str | bytes], wanted: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if wanted in _terminal_output(frames):
            return True
        page.wait_for_timeout(100)  # lets playwright deliver websocket events meanwhile
    return False


def test_served_app_shows_the_scanned_patient(served: str) -> None:
    assert CHROMIUM.exists(), "Debian's chromium package is needed (apt-get install chromium)"
    person = with_records(POPULATION)[0]
    frames: list[str | bytes] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})

            def keep(payload: str | bytes) -> None:
                frames.append(payload)

            def listen(socket_: WebSocket) -> None:
                socket_.on("framereceived", keep)

            page.on("websocket", listen)
            page.goto(served, wait_until="domcontentloaded")
            page.wait_for_selector("body.-first-byte", timeout=20_000)
            assert _wait_for_output(page, frames, "F9", 20), "the waiting screen never arrived"
            page.locator(".xterm-helper-textarea").focus()
            page.keyboard.type(cccd_qr_text(person))
            page.keyboard.press("Enter")
            assert _wait_for_output(page, frames, person.full_name, 45), "the patient's name never came back"
            assert "Traceback" not in _terminal_output(frames)
        finally:
            browser.close()
