"""`kiosk unknown`: register a person the ER cannot identify under a temporary number, in one step.

`kiosk unknown --sex male|female|unknown --age N [--birth-year Y] [--arrival ISO] [--description-file F] --json`
prints `{"status": "created" | "queued", "message", "patient": {"identifiers": [the temporary one first], "number",
"printed", "alias", "arrival", "id"}}`. The number is made at once: with the server down it is `queued` in the offline
cache's outbox and the Patient is created when a later command (or the kiosk) delivers the outbox; the server takes
the same registration twice as one. A description is read from a file (or `-`, standard input), never from the
command line, which every user of the machine can read. The ER mode only (`KIOSK_MODE=er` or `--mode er`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

from kiosk.commands.identities import add_server_options, flush, settings_of, signed_in_service, temporary_json
from kiosk.commands.secrets import SecretOption, check_one_stdin
from kiosk.output import CommandError, emit, say
from kiosk.settings import Settings
from lookup import Sex

DESCRIPTION = SecretOption("description", "what the ER noted about the person (clothing, where found)", 4 * 1024)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("unknown", help="register an unidentified patient under a temporary number")
    p.add_argument("--sex", choices=[Sex.MALE.value, Sex.FEMALE.value, Sex.UNKNOWN.value], default=Sex.UNKNOWN.value)
    p.add_argument("--age", type=int, metavar="N", help="estimated age in years")
    p.add_argument("--birth-year", type=int, metavar="YYYY")
    p.add_argument("--arrival", metavar="ISO", help="arrival time, ISO 8601 (default: now)")
    DESCRIPTION.add_to(p)
    add_server_options(p)


def _arrival(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError("--arrival must be an ISO 8601 date and time, e.g. 2026-03-01T08:30:00+07:00") from None
    return when if when.tzinfo is not None else when.astimezone()


async def _register(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from pydantic import ValidationError

    from lookup.domain.temporary import UnknownArrival

    try:
        arrival = UnknownArrival(
            sex=Sex(args.sex),
            estimated_age=args.age,
            birth_year=args.birth_year,
            arrival=_arrival(args.arrival),
            description=" ".join((args.description or "").split()),
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise CommandError(f"not a usable registration ({fields or 'input'} out of range)") from None
    async with signed_in_service(args, settings) as service:
        made = await service.register_unknown(arrival)
        if made.status == "failed":
            raise CommandError(f"the unknown patient was not registered: {made.message}")
        if made.status == "created":
            # The server answers: registrations queued earlier go now.
            await flush(service)
    return {"status": made.status, "message": made.message, "patient": temporary_json(made)}


def run(args: argparse.Namespace) -> int:
    DESCRIPTION.refuse_literal(args)
    check_one_stdin(args, [DESCRIPTION])
    args.description = DESCRIPTION.read(args)
    settings = settings_of(args)
    result = asyncio.run(_register(args, settings))
    if args.json:
        emit(result)
    else:
        patient = result["patient"]
        say(f"{result['status']}: {patient['printed']} {patient['alias']}\n{result['message']}")
    return 0
