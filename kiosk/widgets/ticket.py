"""The queue ticket an arrival is given: its number in large digits, then the number, room and expiry in words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits

from kiosk.i18n import Translator
from kiosk.widgets.words import Words
from lookup import Ticket


class TicketCard(Vertical):
    """A queue number shown in large type (the digits of `K03-014` as `03-014`: the large font has no letters), with
    the whole number, the room and the time it is valid until beneath."""

    def __init__(self, t: Translator, ticket: Ticket, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="ticket")
        self._t = t
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        t, ticket = self._t, self.ticket
        yield Words(t("ticket.title"), classes="ticket-title")
        yield Digits(ticket.queue_number.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), classes="ticket-digits")
        until = ticket.expires.astimezone().strftime("%H:%M %d/%m") if ticket.expires else "—"
        room = ticket.room or t("ticket.no-room")
        yield Words(t("ticket.line", number=ticket.queue_number, room=room, until=until), classes="ticket-line")
