"""The activity log on both caches: written to the shared one when it is there, read and counted from both."""

from __future__ import annotations

import datetime as dt

from offline_cache.activity import (
    ActivityChoices,
    ActivityCounts,
    ActivityEntry,
    ActivityQuery,
    Period,
    Tally,
    bounded,
    fold,
    merged_choices,
)
from offline_cache.cache import OfflineCache
from offline_cache.hospital.link import SharedRunner
from offline_cache.shared import SharedCache


class HospitalActivity:
    """The activity log on both caches (`ActivityLog`, structurally): a row goes to the hospital's shared log while it
    is reachable, to this kiosk's own otherwise; searches and counts read both and add them up. A search lists a row
    both hold once (written here too when the shared database committed it but its answer was lost with the LAN)."""

    def __init__(self, local: OfflineCache, shared: SharedRunner) -> None:
        self._local = local
        self._shared = shared

    def now(self) -> dt.datetime:
        return self._local.activity.now()

    def record(
        self,
        event_id: str,
        recorded_at: dt.datetime,
        *,
        kiosk: str,
        staff: str | None,
        mode: str,
        action: str,
        outcome: str,
        identifier_type: str | None = None,
        offline: bool = False,
        unsigned: int = 0,
        invalid: int = 0,
    ) -> None:
        def write(cache: OfflineCache | SharedCache) -> bool:
            cache.activity.record(
                event_id,
                recorded_at,
                kiosk=kiosk,
                staff=staff,
                mode=mode,
                action=action,
                outcome=outcome,
                identifier_type=identifier_type,
                offline=offline,
                unsigned=unsigned,
                invalid=invalid,
            )
            return True

        if self._shared.run(write) is None:
            write(self._local)

    def search(self, query: ActivityQuery) -> list[ActivityEntry]:
        """Both logs' rows the query selects, newest first, at most `query.limit`."""
        found = {entry.event_id: entry for entry in self._local.activity.search(query)}
        for entry in self._shared.run(lambda c: c.activity.search(query)) or []:
            found.setdefault(entry.event_id, entry)
        newest = sorted(found.values(), key=lambda entry: entry.recorded_at, reverse=True)
        return newest[: query.limit]

    def tally(self, query: ActivityQuery) -> Tally:
        own = self._local.activity.tally(query)
        shared = self._shared.run(lambda c: c.activity.tally(query))
        return own if shared is None else own + shared

    def counts(self, query: ActivityQuery, by: Period = "hour", zone: dt.tzinfo = dt.UTC) -> ActivityCounts:
        """Both logs' counts of the query's period, per hour or per day in `zone` (`ActivityStore.counts`)."""
        period, since, until = bounded(query, by, self.now())
        return fold(self.tally(period), since, until, by, zone)

    def choices(self) -> ActivityChoices:
        shared = self._shared.run(lambda c: c.activity.choices())
        return merged_choices([self._local.activity.choices(), *([shared] if shared is not None else [])])
