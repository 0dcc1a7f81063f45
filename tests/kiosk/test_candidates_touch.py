"""A candidate row is a touch target of at least 48 px in the browser kiosk (`kiosk serve`).

Headless Chromium (Debian's package) opens the served kiosk and measures one terminal cell as the page draws it
(xterm sizes its input element to exactly one cell); the real app, through its pilot, says how many cells tall each
candidate row is. A tap one row off must land on the same person, never the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from textual.widgets import DataTable

from kiosk.screens.candidates import CandidatesScreen
from kiosk.settings import Mode, load_settings
from kiosk.wiring import build_app
from sandbox.server.runner import RunningSandbox
from testkit.kiosk import sandbox
from testkit.serve import CHROMIUM, CHROMIUM_ARGS, serve_env, served_kiosk
from tests.kiosk import samples

TOUCH_PX = 48
"""The least height of a touch target (WCAG 2.5.5, Material and Apple guidelines: 44-48 px)."""


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(50) as running:
        yield running


@pytest.fixture(scope="module")
def cell_px(server: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> float:
    """The height in CSS pixels of one terminal cell of the served kiosk, in Chromium at its default font."""
    assert CHROMIUM.exists(), "Debian's chromium package is needed (apt-get install chromium)"
    folder = tmp_path_factory.mktemp("served")
    env = serve_env(
        folder,
        server=server.base_url,
        client_id="demo-er",
        client_secret="demo-er",
        trust_list=str(server.trust_list_path),
        mode="er",
    )
    with served_kiosk(env) as kiosk, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(kiosk.open_url, wait_until="domcontentloaded")
            page.wait_for_selector("body.-first-byte", timeout=20_000)
            page.locator(".xterm-helper-textarea").focus()  # xterm sizes it once the terminal has drawn a cell
            measure = "document.querySelector('.xterm-helper-textarea').getBoundingClientRect().height"
            page.wait_for_function(f"{measure} > 0", timeout=20_000)
            return float(page.evaluate(measure))
        finally:
            browser.close()


async def test_candidate_rows_are_at_least_48_px_tall_in_the_browser(cell_px: float, tmp_path: Path) -> None:
    px = cell_px
    assert 10 <= px <= 40, f"one terminal cell measured {px} px"
    settings = load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=Mode.ER,
        cache_dir=tmp_path / "cache",
        config_file=None,
        staff_sign_in=False,  # no server to sign staff in: the screen is shown as it is
    )
    app = build_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(CandidatesScreen(app.context, samples.CANDIDATES))
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        heights = [row.height for row in table.rows.values()]
        assert heights and all(h * px >= TOUCH_PX for h in heights), f"rows of {heights} cells of {px:.1f} px"
        # The keyboard still chooses among tall rows: one press moves one person.
        await pilot.press("down")
        assert table.cursor_row == 1
