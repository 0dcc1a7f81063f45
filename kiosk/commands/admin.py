"""`kiosk admin activity|counts`: the admin console's activity log from the command line.

`kiosk admin activity [--since ISO] [--until ISO] [--kiosk NAME] [--staff ID] [--outcome WORD] [--identifier-type
WORD] [--limit N] [--json | --csv]` lists the audited actions, newest first: when, kiosk, staff member, mode, action,
outcome, kind of identifier, whether the answer came from the offline cache, unsigned and invalid documents shown,
and the AuditEvent's id. `--csv` writes CSV with a header row (`kiosk.activity_log.CSV_COLUMNS`), `--json` one object.

`kiosk admin counts [--by hour|day] [--since ISO] [--until ISO] [--kiosk NAME] [--staff ID] [--json]` counts them
per hour or per day (this machine's days), every hour or day of the period listed, empty ones included, with the
totals and the break-glass actions per staff member. `events` is the number of AuditEvents the kiosks wrote in the
period: once delivered, the server counts the same with `GET AuditEvent?date=ge{since}&date=lt{until}&_tag=
{origin}|client-trail&agent={client id}&_summary=count` (as the admin role).

A period includes `--since` and not `--until` (ISO dates or times, local unless they say; by default the last 24
hours by hour, the last 14 days by day). The log is the one of the cache the settings name, as `kiosk cache` opens it:
this kiosk's file, and the hospital's shared log with `cache_url`. Without a cache nothing was recorded: no rows,
zero counts. Nothing printed names a patient.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from kiosk.commands.periods import instant
from kiosk.output import CommandError, emit, say
from kiosk.settings import load_settings

if TYPE_CHECKING:
    from kiosk.activity_log import ActivitySource
    from offline_cache.activity import ActivityCounts, ActivityEntry, ActivityQuery, Period

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("admin", help="the activity log: audited actions searched and counted")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    activity = actions.add_parser("activity", help="the audited actions, newest first")
    _period(activity)
    activity.add_argument("--outcome", metavar="WORD", help="only this outcome: found, not-found, identity-mismatch...")
    activity.add_argument(
        "--identifier-type", metavar="WORD", help="only lookups begun from this kind: cccd, bhyt, demographic..."
    )
    activity.add_argument("--limit", type=int, default=500, metavar="N", help="at most N actions (default 500)")
    shape = activity.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="CSV with a header row")
    shape.add_argument("--json", action="store_true", help="one JSON object")
    counts = actions.add_parser("counts", help="the audited actions counted per hour or per day")
    counts.add_argument("--by", choices=("hour", "day"), default="hour", help="per hour (default) or per day")
    _period(counts)
    counts.add_argument("--json", action="store_true", help="one JSON object")


def _period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="ISO", help="at or after this date or time (local time unless it says)")
    parser.add_argument("--until", metavar="ISO", help="before this date or time")
    parser.add_argument("--kiosk", metavar="NAME", help="only this kiosk's actions")
    parser.add_argument("--staff", metavar="ID", help="only this staff member's actions")


def _query(args: argparse.Namespace) -> ActivityQuery:
    from offline_cache.activity import ActivityQuery

    chosen: dict[str, Any] = {
        "since": instant(args.since, "--since"),
        "until": instant(args.until, "--until"),
        "kiosk": args.kiosk,
        "staff": args.staff,
        "outcome": getattr(args, "outcome", None),
        "identifier_type": getattr(args, "identifier_type", None),
    }
    if hasattr(args, "limit"):
        chosen["limit"] = args.limit
    try:
        query = ActivityQuery(**chosen)
    except ValidationError as exc:
        problem = exc.errors(include_input=False)[0]
        raise CommandError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise CommandError("--since must be before --until")
    return query


def _reading(read: Callable[[ActivitySource], T], empty: Callable[[], T]) -> T:
    """What `read` finds in the log of the cache the settings name; `empty()` when there is no cache yet."""
    from kiosk.services.cache import open_cache
    from offline_cache import DB_NAME, CacheError

    settings = load_settings()
    if not (settings.cache_dir / DB_NAME).exists() and settings.cache_url is None:
        return empty()
    cache = open_cache(settings)
    try:
        return read(cache.activity)
    except CacheError as exc:
        raise CommandError(str(exc)) from None
    finally:
        cache.close()


def _nothing_counted(query: ActivityQuery, by: Period, zone: dt.tzinfo) -> ActivityCounts:
    from offline_cache.activity import Tally, bounded, fold

    _, since, until = bounded(query, by, dt.datetime.now(dt.UTC))
    return fold(Tally({}, {}), since, until, by, zone)


def _activity(args: argparse.Namespace) -> int:
    from kiosk.activity_log import activity_row, local_zone, write_activity_csv

    query = _query(args)
    zone = local_zone()
    nothing: list[ActivityEntry] = []
    entries = _reading(lambda log: log.search(query), lambda: nothing)
    if args.csv:
        write_activity_csv(entries, sys.stdout, zone)
        sys.stdout.flush()
    elif args.json:
        emit({"count": len(entries), "activity": [entry.model_dump(mode="json") for entry in entries]})
    else:
        for entry in entries:
            say("  ".join(value or "—" for value in activity_row(entry, zone).values()))
        say(f"{len(entries)} actions")
    return 0


def _counts(args: argparse.Namespace) -> int:
    from kiosk.activity_log import local_zone

    query = _query(args)
    zone = local_zone()
    by: Period = "day" if args.by == "day" else "hour"
    counts = _reading(lambda log: log.counts(query, by=by, zone=zone), lambda: _nothing_counted(query, by, zone))
    if args.json:
        emit(counts)
        return 0
    figures = ("events", "lookups", "not_found", "identity_mismatch", "break_glass", "offline", "unsigned", "invalid")
    say("start  " + "  ".join(name.replace("_", "-") for name in figures))
    for bucket in counts.buckets:
        start = bucket.start.strftime("%Y-%m-%d %H:%M" if by == "hour" else "%Y-%m-%d")
        say(f"{start}  " + "  ".join(str(getattr(bucket, name)) for name in figures))
    say("total  " + "  ".join(str(getattr(counts.totals, name)) for name in figures))
    for staff in counts.break_glass_by_staff:
        say(f"break-glass by {staff.staff or '(nobody signed in)'}: {staff.break_glass}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "activity":
        return _activity(args)
    return _counts(args)
