"""`kiosk serve` end to end: headless Chromium (Debian's package, never a downloaded browser) opens the address the
command printed (its access key is swapped for a cookie and leaves the address bar), types a CCCD scan into the
terminal as a wedge scanner would, and sees the patient's name come back.

The terminal in the page draws on a canvas, so the test reads what the app sends over the page's websocket (the
terminal's output stream) rather than the page's text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, sync_playwright

from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox, with_records
from testkit.serve import CHROMIUM, CHROMIUM_ARGS, serve_env, served_kiosk
from testkit.server import STAFF_PINS

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")
POPULATION = 150
HUMAN_KEY_MS = 40
HUMAN_PAUSE_MS = 400


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


@pytest.fixture
def served(server: RunningSandbox, tmp_path: Path) -> Iterator[str]:
    """The address `kiosk serve` printed, with its access key."""
    env = serve_env(
        tmp_path,
        server=server.base_url,
        client_id="demo-er",
        client_secret="demo-er",
        trust_list=str(server.trust_list_path),
        mode="er",
    )
    with served_kiosk(env) as kiosk:
        yield kiosk.open_url


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
            assert "key=" not in page.url, "the access key stayed in the address bar"
            page.wait_for_selector("body.-first-byte", timeout=20_000)
            # An ER kiosk looks nobody up before a staff member signs in: the demo nurse types her id and PIN at a
            # person's pace (a burst faster than a person types is a scanner's, which the sign-in does not expect).
            assert _wait_for_output(page, frames, "vd. nurse-lan", 20), "the staff sign-in never arrived"
            terminal = page.locator(".xterm-helper-textarea")
            terminal.focus()
            page.keyboard.type("nurse-lan", delay=HUMAN_KEY_MS)
            page.keyboard.press("Tab", delay=HUMAN_KEY_MS)
            page.wait_for_timeout(HUMAN_PAUSE_MS)
            page.keyboard.type(STAFF_PINS["nurse-lan"], delay=HUMAN_KEY_MS)
            page.keyboard.press("Enter")
            assert _wait_for_output(page, frames, "Nhân viên: ", 30), "the staff member was never signed in"
            terminal.focus()
            page.keyboard.type(cccd_qr_text(person))
            page.keyboard.press("Enter")
            # The summary's allergy heading appears only once the patient's summary screen is open.
            assert _wait_for_output(page, frames, "Dị ứng", 45), "the patient's summary never came back"
            assert person.full_name in _terminal_output(frames)
            assert "Traceback" not in _terminal_output(frames)
        finally:
            browser.close()


def test_keys_reach_the_app_after_a_page_load_without_a_touch(served: str) -> None:
    """A wedge scanner only types: nobody clicks, taps or focuses anything, after the load or after focus is lost."""
    person = with_records(POPULATION)[1]
    frames: list[str | bytes] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})

            def keep(payload: str | bytes) -> None:
                frames.append(payload)

            page.on("websocket", lambda socket_: socket_.on("framereceived", keep))
            page.goto(served, wait_until="domcontentloaded")
            page.wait_for_selector("body.-first-byte", timeout=20_000)
            assert _wait_for_output(page, frames, "vd. nurse-lan", 20), "the staff sign-in never arrived"
            page.keyboard.type("nurse-lan", delay=HUMAN_KEY_MS)
            page.keyboard.press("Tab", delay=HUMAN_KEY_MS)
            page.wait_for_timeout(HUMAN_PAUSE_MS)
            page.keyboard.type(STAFF_PINS["nurse-lan"], delay=HUMAN_KEY_MS)
            page.keyboard.press("Enter")
            assert _wait_for_output(page, frames, "Nhân viên: ", 30), "keys typed after the page load never arrived"
            # The focus is lost (another element, a tab switch): the page gives it back before the next scan.
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.wait_for_function("document.activeElement?.classList.contains('xterm-helper-textarea')")
            page.keyboard.type(cccd_qr_text(person))
            page.keyboard.press("Enter")
            assert _wait_for_output(page, frames, "Dị ứng", 45), "the scan typed after the focus was lost never arrived"
            assert person.full_name in _terminal_output(frames)
        finally:
            browser.close()
