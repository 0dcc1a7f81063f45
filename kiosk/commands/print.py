"""`kiosk print wristband NUMBER --out FILE` and `kiosk print ticket --queue-number N --department D --out FILE`.

A wristband carries a temporary identity's alias, its number (printed and as a QR code holding the number alone)
and the arrival time: from `--arrival`, else from the lookup service when a server is configured (the server's
record, or what this kiosk kept while offline), else the band says the time is not known. A queue ticket carries
the queue number, department, room, time, expiry (`--expires`, by default the end of the day) and directions in
Vietnamese and English. `--out` names a `.png` (also the on-screen preview) or `.pdf` file; `--printer NAME` (or the
`printer` setting, `KIOSK_PRINTER`) then queues it with the system print service (`lp -d NAME`).
With `--json` it prints one object: `print` (wristband | ticket), `out`, `format` (png | pdf), `width_mm`,
`height_mm`, `printer` and `job` (null when not sent), and for a wristband `number`, `alias`, `arrival` and
`arrival_source` (option | record | null); for a ticket `queue_number`, `issued` and `expires`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from kiosk.output import CommandError, emit, say
from kiosk.settings import Settings, load_settings
from lookup import strip_controls
from lookup.domain.temporary import (
    TemporaryPatient,
    printed_number,
    spelled_as_temporary,
    temporary_alias,
    temporary_number,
)

if TYPE_CHECKING:
    from kiosk.printing import Sheet
    from kiosk.printing.fonts import Fonts

LayOut = Callable[["Fonts"], "Sheet"]

QUEUE_NUMBER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,7}")
LOOKUP_TIMEOUT_S: Final = 5.0
"""A band is printed at the bedside: a slow server must not hold it up for long; the kiosk's own record answers."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("print", help="print a temporary identity's wristband or a queue ticket (PNG or PDF)")
    kinds = p.add_subparsers(dest="print_kind", metavar="WHAT", required=True)
    band = kinds.add_parser("wristband", help="a temporary identity's wristband (25 x 280 mm)")
    band.add_argument("number", metavar="TEMP-NUMBER", help="the temporary number, e.g. TMP-1234-5678-9")
    band.add_argument("--arrival", metavar="ISO", help="arrival time (default: from the server or the kiosk's record)")
    ticket = kinds.add_parser("ticket", help="a queue ticket (80 mm receipt paper)")
    ticket.add_argument("--queue-number", required=True, metavar="N", help="the queue number, e.g. 12 or A012")
    ticket.add_argument("--department", required=True, metavar="D", help="the department the patient goes to")
    ticket.add_argument("--room", metavar="R", help="the room")
    ticket.add_argument("--expires", metavar="ISO", help="when the ticket stops holding (default: end of today)")
    for q in (band, ticket):
        q.add_argument("--out", required=True, type=Path, metavar="FILE", help="the .png or .pdf file to write")
        q.add_argument("--printer", metavar="NAME", help="send the file to this print queue (lp -d NAME)")
        q.add_argument("--json", action="store_true", help="print one JSON object")


def _moment(text: str, option: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{option}: not an ISO date and time (e.g. 2026-12-02T17:30+07:00)") from None
    # A time without an offset is the kiosk's local time, as a clerk would mean it.
    return moment if moment.tzinfo is not None else moment.astimezone()


def _text(value: str, option: str, limit: int) -> str:
    cleaned = " ".join(strip_controls(value).split())
    if not cleaned:
        raise CommandError(f"{option}: empty")
    if len(cleaned) > limit:
        raise CommandError(f"{option}: longer than {limit} characters")
    return cleaned


async def _recorded(settings: Settings, number: str) -> TemporaryPatient | None:
    from kiosk.commands.lookup import _sign_in
    from kiosk.services.cache import open_cache_or_none
    from kiosk.services.trust import TrustFile
    from kiosk.wiring import lookup_service
    from lookup import IdentifierSystems, WrongPatientError

    trust = TrustFile.read(settings.trust_list).trust_list()
    cache = open_cache_or_none(settings)
    service = lookup_service(
        settings, trust, IdentifierSystems(settings.identifier_systems), cache, timeout_s=LOOKUP_TIMEOUT_S
    )
    try:
        await _sign_in(service, settings)
        found = await service.temporary_patient(number)
    except WrongPatientError:
        raise CommandError(
            "the server answered with a record that does not carry this temporary number; nothing was printed"
        ) from None
    finally:
        await service.aclose()
        if cache is not None:
            cache.close()
    # The arrival printed on a band must be this number's own.
    return found if found is not None and found.number == number else None


def _wristband(args: argparse.Namespace, settings: Settings) -> tuple[LayOut, dict[str, Any], str]:
    from kiosk.printing import Wristband, wristband_sheet

    number = temporary_number(args.number)
    if number is None and spelled_as_temporary(args.number):
        raise CommandError("the temporary number's check digit is wrong: check the number; nothing was printed")
    if number is None:
        raise CommandError("not a temporary number: it reads TMP-1234-5678-9 (TMP and nine digits)")
    arrival: dt.datetime | None = None
    source: str | None = None
    if args.arrival is not None:
        arrival, source = _moment(args.arrival, "--arrival"), "option"
    elif settings.server is not None:
        recorded = asyncio.run(_recorded(settings, number))
        if recorded is not None:
            arrival, source = recorded.arrival, "record"
    band = Wristband(number=number, arrival=arrival)
    facts = {
        "number": number,
        "printed_number": printed_number(number),
        "alias": temporary_alias(number),
        "arrival": arrival.isoformat() if arrival is not None else None,
        "arrival_source": source,
    }
    return partial(wristband_sheet, band), facts, "Wristband"


def _ticket(args: argparse.Namespace) -> tuple[LayOut, dict[str, Any], str]:
    from kiosk.printing import QueueTicket, ticket_sheet
    from kiosk.printing.ticket import end_of_day

    if QUEUE_NUMBER.fullmatch(args.queue_number.strip()) is None:
        raise CommandError("--queue-number: one to eight letters, digits or hyphens (e.g. 12 or A012)")
    issued = dt.datetime.now().astimezone().replace(second=0, microsecond=0)
    expires = _moment(args.expires, "--expires") if args.expires is not None else end_of_day(issued)
    if expires <= issued:
        raise CommandError("--expires: already past; a ticket must hold for a while after it is printed")
    ticket = QueueTicket(
        queue_number=args.queue_number.strip().upper(),
        department=_text(args.department, "--department", 80),
        room=_text(args.room, "--room", 20) if args.room is not None else None,
        issued=issued,
        expires=expires,
    )
    facts = {"queue_number": ticket.queue_number, "issued": issued.isoformat(), "expires": expires.isoformat()}
    return partial(ticket_sheet, ticket), facts, "Queue ticket"


def run(args: argparse.Namespace) -> int:
    from kiosk.printing import PrintError, PrintQueue, write_sheet
    from kiosk.printing.fonts import Fonts

    settings = load_settings()
    printer = args.printer if args.printer is not None else settings.printer
    out: Path = args.out
    lay_out, facts, title = _wristband(args, settings) if args.print_kind == "wristband" else _ticket(args)
    try:
        queue = PrintQueue.named(printer) if printer is not None else None
        fonts = Fonts(settings.print_font_dir)
        sheet = lay_out(fonts)
        written = write_sheet(sheet, fonts, out, title)
        job = queue.send(out) if queue is not None else None
    except PrintError as exc:
        raise CommandError(str(exc)) from None
    result = {
        "print": args.print_kind,
        "out": str(out),
        "format": written,
        "width_mm": round(sheet.width_mm, 1),
        "height_mm": round(sheet.height_mm, 1),
        **facts,
        "printer": printer,
        "job": job,
    }
    if args.json:
        emit(result)
    else:
        sent = f"; sent to {printer}" if printer else ""
        say(f"{title} written to {out} ({written}, {result['width_mm']} x {result['height_mm']} mm){sent}")
    return 0
