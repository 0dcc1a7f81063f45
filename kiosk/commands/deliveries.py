"""`kiosk deliveries [--state S] [--kind K] [--kiosk NAME] [--since ISO] [--until ISO] [--search TEXT] [--limit N]
[--csv | --json]`: what this kiosk (and, on a shared cache, the hospital) sent to the server, newest first.

Each message is listed in its delivery state: `sent` (waiting or on its way), `retrying` (attempts, next try, last
fault), `delivered` (the server's id and time of what it made or found) or `given-up` (the reason); never its
payload. `--csv` writes CSV with a header row (`kiosk.deliveries.CSV_COLUMNS`), `--json` one JSON object. Delivered
messages stay listed for the outbox's retention (30 days). The cache comes from the settings, as `kiosk cache` opens
it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from kiosk.commands.periods import instant
from kiosk.output import CommandError, emit, say
from kiosk.settings import load_settings
from offline_cache import DeliveryState

if TYPE_CHECKING:
    from offline_cache import OutboxItem


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("deliveries", help="messages sent to the server: delivered, retrying, given up")
    p.add_argument("--state", choices=[s.value for s in DeliveryState], help="only messages in this delivery state")
    p.add_argument("--kind", help="only this kind: audit, check-in, registration, link, unlink")
    p.add_argument("--kiosk", metavar="NAME", help="only messages this kiosk queued")
    p.add_argument("--since", metavar="ISO", help="queued at or after this date or time (local time unless it says)")
    p.add_argument("--until", metavar="ISO", help="queued before this date or time")
    p.add_argument("--search", metavar="TEXT", help="text in the kind, the server's id or the last fault")
    p.add_argument("--limit", type=int, default=500, metavar="N", help="at most N messages (default 500)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="CSV with a header row")
    shape.add_argument("--json", action="store_true", help="one JSON object")


def _listed(args: argparse.Namespace) -> list[OutboxItem]:
    from kiosk.deliveries import DeliveryFilter, list_deliveries
    from kiosk.services.cache import open_cache
    from offline_cache import DB_NAME, CacheError

    try:
        chosen = DeliveryFilter(
            state=args.state,
            kind=args.kind,
            kiosk=args.kiosk,
            since=instant(args.since, "--since"),
            until=instant(args.until, "--until"),
            search=args.search,
            limit=args.limit,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise CommandError(f"--{problem['loc'][0]}: {problem['msg']}") from None
    settings = load_settings()
    if not (settings.cache_dir / DB_NAME).exists() and settings.cache_url is None:
        return []
    cache = open_cache(settings)
    try:
        return list_deliveries(cache.outbox, chosen)
    except CacheError as exc:
        raise CommandError(str(exc)) from None
    finally:
        cache.close()


def run(args: argparse.Namespace) -> int:
    from kiosk.deliveries import delivery_row, write_csv

    items = _listed(args)
    if args.csv:
        write_csv(items, sys.stdout)
        sys.stdout.flush()
    elif args.json:
        emit({"count": len(items), "deliveries": [item.model_dump(mode="json") for item in items]})
    else:
        for item in items:
            row = delivery_row(item)
            say("  ".join(value or "—" for value in row.values()))
        say(f"{len(items)} messages")
    return 0
