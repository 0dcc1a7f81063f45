"""What every kiosk screen has: a title, a warning banner, the lookup progress line and the key hints."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from kiosk.widgets.banner import StatusBanner
from kiosk.widgets.context import KioskContext
from kiosk.widgets.progress import LookupProgress


class KioskScreen(Screen[None]):
    """A full screen of the kiosk. Subclasses fill `compose_body`; words are re-read when the language changes."""

    HINT_KEYS: tuple[str, ...] = ("hint.lang", "hint.admin")
    """Catalogue keys of the key hints shown at the bottom of this screen."""

    def __init__(self, context: KioskContext) -> None:
        super().__init__()
        self.context = context
        self._drawn_in = context.t.lang

    def compose(self) -> ComposeResult:
        t = self.context.t
        self._drawn_in = t.lang
        yield Static(f"✚ {t('app.title')} · {t(f'mode.{self.context.mode.value}')}", classes="title-bar")
        yield StatusBanner(id="banner")
        with Vertical(classes="body"):
            yield from self.compose_body()
        yield LookupProgress(t, id="progress")
        yield Static(" · ".join(t(key) for key in self.hint_keys()), classes="key-hints")

    def hint_keys(self) -> tuple[str, ...]:
        return self.HINT_KEYS

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def progress(self) -> LookupProgress:
        return self.query_one("#progress", LookupProgress)

    @property
    def banner(self) -> StatusBanner:
        return self.query_one("#banner", StatusBanner)

    def banner_lines(self) -> tuple[list[str], bool]:
        """The warnings this screen shows for its content, and whether they are dangerous."""
        return [], False

    def on_mount(self) -> None:
        lines, danger = self.banner_lines()
        self.banner.set_lines(lines, danger=danger)

    async def on_screen_resume(self) -> None:
        # The language may have changed while another screen was on top.
        if self._drawn_in != self.context.t.lang:
            await self.relabel()

    async def relabel(self) -> None:
        """Redraw in the new language, keeping what the screen shows."""
        await self.recompose()
        self.on_mount()
