"""The online/offline mark in every screen's header, shown before anyone is looked up."""

from __future__ import annotations

from kiosk.widgets.context import KioskContext
from kiosk.widgets.words import Words

REDRAW_EVERY_S = 1.0
"""How often the mark re-reads the app's network state (the app probes the server less often)."""


class NetworkMark(Words):
    """ "● Có mạng" or "● Mất kết nối", from the state the app's probe keeps in the context."""

    DEFAULT_CSS = """
    NetworkMark { width: auto; padding: 0 1; }
    NetworkMark.-online { color: $success; }
    NetworkMark.-offline { background: $error; color: white; text-style: bold; }
    """

    def __init__(self, context: KioskContext, *, id: str | None = None) -> None:
        super().__init__(self._words(context), id=id)
        self._kiosk = context
        self._shown = context.network.online

    @staticmethod
    def _words(context: KioskContext) -> str:
        online = context.network.online
        return context.t("net.checking" if online is None else "net.online" if online else "net.offline")

    def on_mount(self) -> None:
        self._paint()
        self.set_interval(REDRAW_EVERY_S, self.redraw, name="network-mark")

    def redraw(self) -> None:
        if self._kiosk.network.online != self._shown:
            self._shown = self._kiosk.network.online
            self._paint()

    def _paint(self) -> None:
        online = self._kiosk.network.online
        self.set_class(online is True, "-online")
        self.set_class(online is False, "-offline")
        self.update(self._words(self._kiosk))
