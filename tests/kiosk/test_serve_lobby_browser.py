"""The lobby's self check-in by touch through `kiosk serve`: headless Chromium (Debian's package) opens the address
the command printed, and everything is a tap on the page: the card number on the lobby's on-screen keypad, the
check-in button, the birth date on the keypad, OK, and the language button on the end screen.

The terminal draws on a canvas: the test replays what the app sends over the page's websocket onto a grid of the
size the page asked for (`testkit.terminal`), finds a button's label there, and taps the middle of that cell.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, sync_playwright

from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.clinical import events
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import SEED, sandbox, with_records
from testkit.serve import CHROMIUM, CHROMIUM_ARGS, serve_env, served_kiosk
from testkit.terminal import TerminalGrid, replay, terminal_size

POPULATION = 150


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


@pytest.fixture
def served(server: RunningSandbox, tmp_path: Path) -> Iterator[str]:
    """The address a lobby `kiosk serve` printed, with its access key."""
    env = serve_env(
        tmp_path,
        server=server.base_url,
        client_id="demo-lobby",
        client_secret="demo-lobby",
        trust_list=str(server.trust_list_path),
        mode="lobby",
    )
    with served_kiosk(env) as kiosk:
        yield kiosk.open_url


def booked_today() -> SyntheticPerson:
    """Someone the sandbox booked for today who has not arrived yet."""
    for person in with_records(POPULATION):
        province = OLD_PROVINCES_BY_NAME[person.card_province].current_code
        if any(a.day == 0 and a.status == "booked" for a in events(person.index, SEED, province).appointments):
            return person
    raise AssertionError("the sandbox booked nobody for today")


class Touch:
    """The page's terminal as a finger sees it: what it shows, and a tap on the cell where a word is drawn."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.received: list[str | bytes] = []
        self.sent: list[str | bytes] = []

        def received(payload: str | bytes) -> None:
            self.received.append(payload)

        def sent(payload: str | bytes) -> None:
            self.sent.append(payload)

        def listen(socket_: WebSocket) -> None:
            socket_.on("framereceived", received)
            socket_.on("framesent", sent)

        page.on("websocket", listen)

    def grid(self) -> TerminalGrid:
        size = terminal_size(self.sent)
        assert size is not None, "the page never told the app its size"
        return replay(self.received, *size)

    def wait_for(self, condition: Callable[[str], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if terminal_size(self.sent) is not None and condition(self.grid().text()):
                return
            self.page.wait_for_timeout(100)  # lets playwright deliver websocket events meanwhile
        raise AssertionError(f"{what} never showed; the screen was:\n{self.grid().text()}")

    def tap(self, pattern: str, *, on_line: str | None = None) -> None:
        """Tap the middle of the first match of `pattern` (a regular expression) on the first line that matches
        `on_line` (a line of keypad keys, say), or on any line."""
        grid = self.grid()
        cell = None
        for y, line in enumerate(grid.lines()):
            if on_line is not None and not re.search(on_line, line):
                continue
            if found := re.search(pattern, line):
                cell = (found.start() + found.end() - 1) / 2, y
                break
        assert cell is not None, f"no {pattern!r} on screen:\n{grid.text()}"
        box = self.page.locator(".xterm-screen").bounding_box()
        assert box is not None
        across = box["x"] + (cell[0] + 0.5) * box["width"] / grid.columns
        down = box["y"] + (cell[1] + 0.5) * box["height"] / grid.rows
        self.page.mouse.click(across, down)
        self.page.wait_for_timeout(150)


KEY_LINES = {
    **dict.fromkeys("123", r"\b1\s+2\s+3\b"),
    **dict.fromkeys("456", r"\b4\s+5\s+6\b"),
    **dict.fromkeys("789", r"\b7\s+8\s+9\b"),
    "0": r"Xóa\s+0\s+Xóa hết",
}
"""The line of the on-screen keypad each digit is on."""


def test_lobby_check_in_by_touch_in_a_browser(served: str) -> None:
    assert CHROMIUM.exists(), "Debian's chromium package is needed (apt-get install chromium)"
    person = booked_today()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            touch = Touch(page)
            page.goto(served, wait_until="domcontentloaded")
            page.wait_for_selector("body.-first-byte", timeout=20_000)
            touch.wait_for(lambda text: "Vui lòng quét" in text, 30, "the lobby's start screen")
            touch.tap(r"Nhập số căn cước")
            touch.wait_for(lambda text: "Xóa hết" in text, 20, "the keypad for the card number")
            for digit in person.cccd:
                touch.tap(rf"(?<!\S){digit}(?!\S)", on_line=KEY_LINES[digit])
            touch.tap(r"Đồng ý")
            touch.wait_for(lambda text: "Xác nhận đã đến" in text, 45, "the appointment's check-in button")
            touch.tap(r"Xác nhận đã đến")
            touch.wait_for(lambda text: "ngày sinh" in text, 20, "the second factor")
            for digit in person.birth_date.strftime("%d%m%Y"):
                touch.tap(rf"(?<!\S){digit}(?!\S)", on_line=KEY_LINES[digit])
            touch.tap(r"Đồng ý")
            touch.wait_for(lambda text: "Mời bạn đến" in text, 30, "the end of the check-in")
            text = touch.grid().text()
            assert "Số thứ tự" in text and "Phòng" in text
            touch.tap(r"English")
            touch.wait_for(lambda text: "Please go to" in text, 20, "the end screen in English")
            assert "Traceback" not in touch.grid().text()
        finally:
            browser.close()
