"""Lookups per hour for the admin screen (timestamps only, never who was looked up), and the clock screens read."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable

Clock = Callable[[], dt.datetime]
"""Returns the current time, timezone-aware; injected so screens that show ages are deterministic in tests."""


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LookupActivity:
    """A rolling record of when lookups finished, kept for one day."""

    def __init__(self, clock: Clock, keep_hours: int = 24) -> None:
        self._clock = clock
        self._keep = dt.timedelta(hours=keep_hours)
        self._hours = keep_hours
        self._times: deque[dt.datetime] = deque()

    def record(self) -> None:
        now = self._clock()
        self._times.append(now)
        while self._times and now - self._times[0] > self._keep:
            self._times.popleft()

    def per_hour(self) -> list[int]:
        """Counts for each of the last `keep_hours` hours, oldest first; the last bucket is the current hour."""
        now = self._clock()
        counts = [0] * self._hours
        for when in self._times:
            age_hours = int((now - when).total_seconds() // 3600)
            if 0 <= age_hours < self._hours:
                counts[self._hours - 1 - age_hours] += 1
        return counts

    def __len__(self) -> int:
        return len(self._times)
