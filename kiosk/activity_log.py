"""The admin console's reading of the activity log (`offline_cache.activity`), shared by the activity screen and
`kiosk admin`, so both say the same: the log of the cache this kiosk opened (its own file, or its own and the
hospital's shared one), its rows as CSV, and the figures the charts draw. No value in it names a patient: kinds,
counts, flags, the kiosk, the staff member and the audit event's id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Final, Protocol, TextIO

from kiosk.spreadsheet import write_csv
from offline_cache.activity import ActivityChoices, ActivityCounts, ActivityEntry, ActivityQuery, Period

CSV_COLUMNS: Final = (
    "recorded_at",
    "kiosk",
    "staff",
    "mode",
    "action",
    "outcome",
    "identifier_type",
    "offline",
    "unsigned",
    "invalid",
    "event_id",
)
CHARTS: Final = ("lookups", "not_found", "identity_mismatch", "break_glass", "offline", "unsigned", "invalid")
"""The figures the console charts, in its order (`offline_cache.activity.ActivityFigures`)."""
CHART_HOURS: Final = 24


class ActivitySource(Protocol):
    """The log the console reads: `ActivityStore` on one database, `HospitalActivity` on both."""

    def search(self, query: ActivityQuery) -> list[ActivityEntry]: ...

    def counts(self, query: ActivityQuery, by: Period = ..., zone: dt.tzinfo = ...) -> ActivityCounts: ...

    def choices(self) -> ActivityChoices: ...


def local_zone() -> dt.tzinfo:
    """The zone the console shows times and counts days in: the machine's."""
    zone = dt.datetime.now().astimezone().tzinfo
    return zone if zone is not None else dt.UTC


def activity_row(entry: ActivityEntry, zone: dt.tzinfo) -> dict[str, str]:
    """One row as CSV holds it, in the words of `CSV_COLUMNS`; the time in ISO 8601 in `zone`."""
    return {
        "recorded_at": entry.recorded_at.astimezone(zone).isoformat(timespec="milliseconds"),
        "kiosk": entry.kiosk,
        "staff": entry.staff or "",
        "mode": entry.mode,
        "action": entry.action,
        "outcome": entry.outcome,
        "identifier_type": entry.identifier_type or "",
        "offline": "yes" if entry.offline else "no",
        "unsigned": str(entry.unsigned),
        "invalid": str(entry.invalid),
        "event_id": entry.event_id,
    }


def write_activity_csv(entries: Iterable[ActivityEntry], out: TextIO, zone: dt.tzinfo) -> int:
    """The rows as CSV with a header row; the number written."""
    return write_csv(CSV_COLUMNS, (activity_row(entry, zone) for entry in entries), out)


def series(counts: ActivityCounts, figure: str) -> list[int]:
    """One figure of every hour or day of the counts, oldest first."""
    return [int(getattr(bucket, figure)) for bucket in counts.buckets]


def last_hours(now: dt.datetime, hours: int = CHART_HOURS) -> ActivityQuery:
    """The query of the last `hours` whole hours, the current one last (as the admin screen's chart draws them)."""
    current = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return ActivityQuery(since=current - dt.timedelta(hours=hours - 1), until=now)


def lookups_per_hour(source: ActivitySource, kiosk: str, now: dt.datetime) -> Sequence[int]:
    """This kiosk's lookups in each of the last 24 hours, oldest first, from the log."""
    query = last_hours(now).model_copy(update={"kiosk": kiosk})
    return series(source.counts(query, by="hour"), "lookups")
