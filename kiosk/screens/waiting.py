"""The start screen: waiting for a card or code to be scanned, with a way to search by hand."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

from kiosk.demo_hint import DemoHint
from kiosk.screens.base import KioskScreen
from kiosk.settings import Mode
from kiosk.widgets.context import KioskContext
from kiosk.widgets.words import Words


class WaitingScreen(KioskScreen):
    """Waits for a scan from the wedge scanner (any key, anywhere) or the camera; offers the manual search."""

    HINT_KEYS = ("hint.search", "hint.lang", "hint.admin")

    def hint_keys(self) -> tuple[str, ...]:
        if self.context.mode is Mode.ER:
            return ("hint.search", "hint.unknown", "hint.lang", "hint.admin")
        return ("hint.code", "hint.lang") if self.context.lobby else self.HINT_KEYS

    def __init__(self, context: KioskContext, *, hint: DemoHint | None = None) -> None:
        super().__init__(context)
        self._hint = hint
        self._camera = "off"
        self._notice = ""

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        yield Words(t("waiting.lobby" if self.context.lobby else "waiting.title"), classes="headline")
        yield Words(t("waiting.how-lobby" if self.context.lobby else "waiting.how"), classes="explain")
        yield Words(self._camera_text(), id="camera")
        yield Words(self._notice, id="notice", classes="notice")
        with Horizontal(classes="actions"):
            key = "waiting.type-code" if self.context.lobby else "waiting.search"
            yield self._unfocusable(Button(t(key), id="search", variant="primary"))
            if self.context.mode is Mode.ER:
                yield self._unfocusable(Button(t("waiting.unknown"), id="unknown-patient", variant="warning"))
        if self._hint is not None:
            yield Words(self._hint_text(), id="demo-hint", classes="hint")

    @staticmethod
    def _unfocusable(button: Button) -> Button:
        # Keys on this screen belong to the wedge scanner: a focused button would be pressed by a scanned space.
        button.can_focus = False
        return button

    def _camera_text(self) -> Text:
        t = self.context.t
        return Text(f"{t('camera.label')}: {t(f'camera.{self._camera}')}", style="bright_black")

    def _hint_text(self) -> Text:
        assert self._hint is not None
        t = self.context.t
        text = Text(t("demo.title") + "\n", style="bold")
        text.append(t("demo.paste") + "\n")
        text.append(self._hint.cccd_text + "\n", style="cyan")
        if self._hint.qr_image is not None:
            text.append(t("demo.image", path=str(self._hint.qr_image)) + "\n")
        if self._hint.search_name:
            text.append(t("demo.search", example=self._hint.search_name) + "\n")
        if self._hint.consent_text:
            text.append(t("demo.consent") + "\n")
            text.append(self._hint.consent_text, style="cyan")
        return text

    def set_camera(self, status: str) -> None:
        self._camera = status
        if self.is_mounted:
            self.query_one("#camera", Words).update(self._camera_text())

    def set_notice(self, text: str) -> None:
        """A short line under the prompt: why the last scan did not work."""
        self._notice = text
        if self.is_mounted:
            self.query_one("#notice", Words).update(text)

    @property
    def has_notice(self) -> bool:
        return bool(self._notice)

    @on(Button.Pressed, "#search")
    async def _open_search(self) -> None:
        await self.run_action("app.search")

    @on(Button.Pressed, "#unknown-patient")
    async def _open_unknown(self) -> None:
        await self.run_action("app.unknown_patient")
