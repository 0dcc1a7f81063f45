"""`kiosk duplicates [--scan] [--limit N] [--json]`: the possible duplicate patients waiting for review.

Lists the pairs in the cache's review queue (the hospital's, on a shared cache), likeliest first: for each, the
score, both records (id, name, sex, birth date, identifiers, province), the identifiers they share or differ on and
the matching engine's field by field comparison, and when the pair was found. `--scan` first scans every cached
patient for pairs (the checks at each lookup find most of them as they come). Deciding is done on the admin
console's review screen, where a staff member is signed in. With `--json`: `{"count": N, "pairs": [...],
"scanned": {"patients", "pairs", "new"} | null}`; the cache comes from the settings (`KIOSK_CACHE_DIR`, ...).
"""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.output import CommandError, emit, say
from kiosk.settings import load_settings
from lookup.domain.duplicates import DuplicateScan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("duplicates", help="possible duplicate patients waiting for review")
    p.add_argument("--scan", action="store_true", help="scan every cached patient for pairs first")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="list at most N pairs (default 100)")
    p.add_argument("--json", action="store_true", help="one JSON object")


def _plain(pair: dict[str, Any]) -> str:
    def who(record: dict[str, Any]) -> str:
        person = record["demographics"]
        name = " ".join(part for part in (person.get("family"), person.get("middle"), person.get("given")) if part)
        born = person.get("birth_date") or person.get("birth_year") or "—"
        return f"{record['id']} {name or '—'} ({born})"

    numbers = ", ".join(f"{i['system'].rsplit('/', 1)[-1]} {i['level']}" for i in pair["identifiers"])
    fields = ", ".join(f"{a['field']} {a['note'] or a['level']}" for a in pair["agreements"] if a["level"] != "missing")
    why = "; ".join(part for part in (numbers, fields) if part)
    return f"{round(pair['score'] * 100)} %  {who(pair['first'])}  |  {who(pair['second'])}  |  {why}"


def run(args: argparse.Namespace) -> int:
    from kiosk.services.cache import open_cache
    from kiosk.services.duplicates import DuplicateDesk
    from offline_cache import DB_NAME, CacheError

    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    settings = load_settings()
    if not (settings.cache_dir / DB_NAME).exists() and settings.cache_url is None:
        # No cache yet: nothing was ever cached here, so nothing can be a duplicate (and none is made by asking).
        return _print([], DuplicateScan(patients=0, pairs=0, new=0) if args.scan else None, args.json)
    cache = open_cache(settings)
    try:
        desk = DuplicateDesk(cache)
        scanned = desk.scan() if args.scan else None
        waiting = desk.waiting(args.limit)
    except CacheError as exc:
        raise CommandError(str(exc)) from None
    finally:
        cache.close()
    pairs = [{**queued.pair.model_dump(mode="json"), "found_at": queued.found_at.isoformat()} for queued in waiting]
    return _print(pairs, scanned, args.json)


def _print(pairs: list[dict[str, Any]], scanned: DuplicateScan | None, as_json: bool) -> int:
    if as_json:
        emit({"count": len(pairs), "pairs": pairs, "scanned": scanned.model_dump() if scanned else None})
        return 0
    if scanned is not None:
        say(f"scanned {scanned.patients} patients: {scanned.pairs} pairs, {scanned.new} new")
    say(f"{len(pairs)} pairs waiting" if pairs else "no pair waiting")
    for pair in pairs:
        say(_plain(pair))
    return 0
