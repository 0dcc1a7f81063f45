"""`kiosk link TEMP-NUMBER --to PATIENT-ID [--json]`: link a temporary identity to the real patient.

The server marks the temporary Patient `replaced-by` the real one and moves what was recorded under it; a lookup of
either then shows the real person. Prints `{"status": "linked", "message", "history": [{"action", "temporary_number",
"patient_id", "at", "staff_id"}]}`; a refusal (no such patient, linked to another, a target that is itself temporary)
is an error naming why. With the server unreachable the decision waits in the outbox (`"status": "queued"`), and a
later command delivers it (`kiosk deliveries` shows when). `kiosk unlink` undoes it.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from kiosk.commands.identities import add_server_options, flush, history_json, settings_of, signed_in_service
from kiosk.output import CommandError, emit, say
from kiosk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("link", help="link a temporary identity to the real patient")
    p.add_argument("number", metavar="TEMP-NUMBER", help="the temporary number, e.g. TMP-1234-5678-9")
    p.add_argument("--to", required=True, metavar="PATIENT-ID", help="the real patient's id on the server")
    add_server_options(p)


def temporary_or_error(text: str) -> str:
    from lookup.domain.temporary import temporary_number

    number = temporary_number(text)
    if number is None:
        raise CommandError("not a temporary number (TMP-1234-5678-9, with a correct check digit)")
    return number


async def _link(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    number = temporary_or_error(args.number)
    async with signed_in_service(args, settings) as service:
        result = await service.link(number, args.to)
        await flush(service)
    if result.status not in ("linked", "queued"):
        raise CommandError(f"not linked: {result.message}")
    return {"status": result.status, "message": result.message, "history": history_json(result.history)}


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(_link(args, settings_of(args)))
    if args.json:
        emit(result)
    else:
        say(f"{result['status']}: {result['message']}")
    return 0
