"""The end of a self check-in in the lobby: the queue number large, the department and room, and where to go, in the
language the person chose (the header's language buttons redraw it). With a `printer` set, the queue ticket is
printed (`kiosk.printing`, `lp`) and the screen says to take it; without one, the screen is the ticket. The lobby's
idle reset brings back the start screen, as after any other screen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Button

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.ticket import TicketCard
from kiosk.widgets.words import Words
from lookup import Ticket

log = logging.getLogger(__name__)


def print_ticket(ticket: Ticket, department: str, printer: str, font_dir: Path | None, now: dt.datetime) -> str:
    """Lay `ticket` out as the desk's receipt (a PDF) and queue it on `printer`; lp's job line, or `PrintError`."""
    from kiosk.printing import PrintQueue, QueueTicket, ticket_sheet, write_sheet
    from kiosk.printing.fonts import Fonts
    from kiosk.printing.ticket import end_of_day

    queue = PrintQueue.named(printer)
    fonts = Fonts(font_dir)
    expires = ticket.expires.astimezone() if ticket.expires is not None else end_of_day(now)
    sheet = ticket_sheet(QueueTicket(ticket.queue_number, department, ticket.room, now, expires), fonts)
    with tempfile.TemporaryDirectory(prefix="kiosk-ticket-") as folder:
        path = Path(folder) / "ticket.pdf"
        write_sheet(sheet, fonts, path, "Queue ticket")
        return queue.send(path)


class LobbyTicketScreen(KioskScreen):
    """The queue number, department, room and directions after a lobby check-in or walk-in; printed when it can be."""

    HINT_KEYS = ("hint.lang",)
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.start_over", "new")]

    def __init__(
        self,
        context: KioskContext,
        ticket: Ticket,
        department: str,
        *,
        printer: str | None = None,
        font_dir: Path | None = None,
    ) -> None:
        super().__init__(context)
        self.ticket = ticket
        self.department = department
        self._printer = printer
        self._font_dir = font_dir
        self.printed: bool | None = None
        """True once the ticket was queued on the printer, False when printing failed, None before or without one."""

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        ticket = self.ticket
        yield Words(t("lobby-ticket.title"), classes="headline")
        yield TicketCard(t, ticket, id="ticket")
        yield Words(t("lobby-ticket.department", department=self.department), id="lobby-department")
        room = ticket.room
        directions = (
            t("lobby-ticket.directions-room", department=self.department, room=room)
            if room
            else t("lobby-ticket.directions", department=self.department)
        )
        yield Words(directions, id="lobby-directions", classes="explain")
        yield Words(self._print_words(), id="lobby-print", classes="notice")
        with Horizontal(classes="actions"):
            yield Button(t("action.done"), id="done", variant="primary")

    def _print_words(self) -> str:
        t = self.context.t
        if self._printer is None:
            return t("lobby-ticket.on-screen")
        if self.printed is None:
            return t("lobby-ticket.printing")
        return t("lobby-ticket.printed" if self.printed else "lobby-ticket.print-failed")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#done", Button).focus()
        if self._printer is not None and self.printed is None:
            self.run_worker(self._print(self._printer), name="print-ticket", group="print", exclusive=True)

    async def _print(self, printer: str) -> None:
        from kiosk.printing import PrintError

        now = self.context.clock().astimezone()
        try:
            await asyncio.to_thread(print_ticket, self.ticket, self.department, printer, self._font_dir, now)
            self.printed = True
        except PrintError as exc:
            # The reason names the printer and lp's complaint, never the ticket.
            log.error("ticket not printed: %s", exc)
            self.printed = False
        if self.is_mounted:
            self.query_one("#lobby-print", Words).update(self._print_words())

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            await self.run_action("app.start_over")
