"""`kiosk unlink TEMP-NUMBER [--json]`: undo a temporary identity's link to a real patient.

Both Patients are restored and what the link moved goes back; prints `{"status": "unlinked", "message", "history"}`
(as `kiosk link`); an identity that is not linked is an error naming why, and with the server unreachable the undo
waits in the outbox (`"status": "queued"`) for a later command to deliver.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from kiosk.commands.identities import add_server_options, flush, history_json, settings_of, signed_in_service
from kiosk.commands.link import temporary_or_error
from kiosk.output import CommandError, emit, say
from kiosk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("unlink", help="undo a temporary identity's link to a real patient")
    p.add_argument("number", metavar="TEMP-NUMBER", help="the temporary number, e.g. TMP-1234-5678-9")
    add_server_options(p)


async def _unlink(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    number = temporary_or_error(args.number)
    async with signed_in_service(args, settings) as service:
        result = await service.unlink(number)
        await flush(service)
    if result.status not in ("unlinked", "queued"):
        raise CommandError(f"not unlinked: {result.message}")
    return {"status": result.status, "message": result.message, "history": history_json(result.history)}


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(_unlink(args, settings_of(args)))
    if args.json:
        emit(result)
    else:
        say(f"{result['status']}: {result['message']}")
    return 0
