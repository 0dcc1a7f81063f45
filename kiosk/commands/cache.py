"""`kiosk cache stats|purge [--json]`: the offline cache's figures, and its purge.

`stats` prints counts, bytes, the oldest record's age and the outbox's delivery states (never a record). `purge`
deletes expired records and delivered messages; `--all` deletes every record and every delivered message, keeping
undelivered ones unless `--outbox` is given too. `--discard` deletes the cache file without opening it: the way out
when its key is lost or the file is damaged (the data is then gone for good, which is why it is never automatic).
The cache directory, key and time-to-live come from the settings (`KIOSK_CACHE_DIR`, `KIOSK_MODE`, ...).
"""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.output import CommandError, emit, say
from kiosk.services.cache import open_cache
from kiosk.settings import load_settings
from offline_cache import DB_NAME, CacheError, discard


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cache", help="offline cache figures and purge")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="counts, bytes, oldest entry and outbox states")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    purge = actions.add_parser("purge", help="delete expired records (or all with --all)")
    purge.add_argument("--json", action="store_true", help="one JSON object")
    purge.add_argument("--all", action="store_true", help="every record and every delivered message")
    purge.add_argument("--outbox", action="store_true", help="with --all: undelivered messages too")
    purge.add_argument("--discard", action="store_true", help="delete the cache file without opening it")


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(data)
        return
    for name, value in data.items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        say(f"{name}: {shown}")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = settings.cache_dir / DB_NAME
    if args.action == "purge" and args.discard:
        removed = discard(settings.cache_dir)
        _print({"discarded": [str(p) for p in removed]}, args.json)
        return 0
    if not path.exists() and settings.cache_url is None:
        _print({"path": str(path), "exists": False}, args.json)
        return 0
    cache = open_cache(settings)
    try:
        if args.action == "stats":
            _print({"exists": True, **cache.stats().model_dump(mode="json")}, args.json)
        else:
            purged = cache.purge(all=args.all, outbox=args.outbox)
            after = cache.stats()
            waiting = after.outbox["queued"] + after.outbox["sent"] + after.outbox["failed"]
            _print({"purged": purged, "all": args.all, "records": after.records, "outbox_kept": waiting}, args.json)
    except CacheError as exc:
        raise CommandError(str(exc)) from None
    finally:
        cache.close()
    return 0
