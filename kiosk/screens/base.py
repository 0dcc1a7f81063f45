"""What every kiosk screen has: a title (with the staff member signed in), a warning banner, the lookup progress
line and the key hints."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from kiosk.widgets.banner import StatusBanner
from kiosk.widgets.context import KioskContext
from kiosk.widgets.header import HeaderButtons
from kiosk.widgets.network import NetworkMark
from kiosk.widgets.progress import LookupProgress
from kiosk.widgets.words import Words


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
        with Horizontal(id="header", classes="header"):
            yield Words(self._title(), id="title-bar", classes="title-bar")
            yield NetworkMark(self.context, id="network-mark")
            yield HeaderButtons(t)
        yield StatusBanner(id="banner")
        with Vertical(classes="body"):
            yield from self.compose_body()
        yield LookupProgress(t, id="progress")
        yield Words(self._hints(), id="key-hints", classes="key-hints")

    def _title(self) -> str:
        t, staff = self.context.t, self.context.staff
        title = f"✚ {t('app.title')} · {t(f'mode.{self.context.mode.value}')}"
        if staff.staff_id is not None:
            title += " · " + t("staff.header-offline" if staff.offline else "staff.header", staff=staff.staff_id)
        return title

    def _hints(self) -> str:
        keys = self.hint_keys() + (("hint.sign-out",) if self.context.staff.staff_id is not None else ())
        return " · ".join(self.context.t(key) for key in keys)

    def show_staff(self) -> None:
        """Redraw the title and key hints after a staff member signed in or out."""
        if self.is_mounted:
            self.query_one("#title-bar", Words).update(self._title())
            self.query_one("#key-hints", Words).update(self._hints())

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
