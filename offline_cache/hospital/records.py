"""Records on both caches: written to this kiosk's at once and to the shared one behind it, read from this kiosk's
first.

A lookup never waits on the database for a write: the record is in this kiosk's cache when `put` returns, and a
thread of its own (`SharedWriter`) copies it to the shared cache in batches. While the shared cache is unreachable
the writer keeps the latest `capacity` records and copies them when it is back; older ones are dropped (a cache
forgets, an outbox does not: messages never go this way). Closing waits a moment for what is still waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from offline_cache.cache import OfflineCache
from offline_cache.errors import CacheError, CacheKeyError
from offline_cache.hospital.link import SharedRunner
from offline_cache.shared import SharedCache
from offline_cache.store import NewRecord, Record

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Deletion:
    """A record to delete from the shared cache, in its place among the writes."""

    key: str


def _applied(work: list[NewRecord] | _Deletion) -> Callable[[SharedCache], bool]:
    """The shared cache's side of a batch of writes or of one deletion."""

    def apply(cache: SharedCache) -> bool:
        if isinstance(work, _Deletion):
            cache.records.delete(work.key)
        else:
            cache.records.put_many(work)
        return True

    return apply


class SharedWriter:
    """Copies records to the shared cache in its own thread, in order, in batches."""

    def __init__(
        self, shared: SharedRunner, *, capacity: int = 2000, batch: int = 50, retry_seconds: float = 1.0
    ) -> None:
        self._shared = shared
        self._capacity = capacity
        self._batch = batch
        self._retry = retry_seconds
        self._waiting: deque[NewRecord | _Deletion] = deque()
        self._busy = 0
        self._changed = threading.Condition()
        self._closed = False
        self.dropped = 0
        """Records never copied because too many waited while the shared cache was away."""
        self._thread = threading.Thread(target=self._run, name="shared-cache-writer", daemon=True)
        self._thread.start()

    def submit(self, item: NewRecord | _Deletion) -> None:
        with self._changed:
            if self._closed:
                return
            if len(self._waiting) >= self._capacity:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append(item)
            self._changed.notify_all()

    def flush(self, timeout: float, *, while_away: bool = False) -> bool:
        """Wait up to `timeout` seconds for every submitted record to be copied; True when done. Unless `while_away`,
        stop waiting as soon as the shared cache is away (a kiosk closing then keeps nobody waiting)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or (not while_away and self._shared.link.get() is None):
                    return False
                self._changed.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 2.0) -> None:
        self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout=1.0)

    def _take(self) -> list[NewRecord] | _Deletion | None:
        """The next batch of writes, or one deletion; None once closed. Waits for work."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            first = self._waiting.popleft()
            if isinstance(first, _Deletion):
                self._busy = 1
                return first
            batch = [first]
            while self._waiting and len(batch) < self._batch and isinstance(self._waiting[0], NewRecord):
                item = self._waiting.popleft()
                assert isinstance(item, NewRecord)
                batch.append(item)
            self._busy = len(batch)
            return batch

    def _run(self) -> None:
        while (work := self._take()) is not None:
            items: list[NewRecord | _Deletion] = [work] if isinstance(work, _Deletion) else list(work)
            done = self._shared.run(_applied(work))
            with self._changed:
                self._busy = 0
                if done is None and not self._closed:
                    # The shared cache is away: these wait at the front, in order, for it to come back.
                    self._waiting.extendleft(reversed(items))
                    while len(self._waiting) > self._capacity:
                        self._waiting.popleft()
                        self.dropped += 1
                self._changed.notify_all()
            if done is None:
                time.sleep(self._retry)


class HospitalRecords:
    """Records on both caches (`lookup.service.cache_protocol.RecordCache`, structurally)."""

    def __init__(self, local: OfflineCache, shared: SharedRunner) -> None:
        self._local = local
        self._shared = shared
        self.writer = SharedWriter(shared)

    def put(self, key: str, payload: bytes, *, index_keys: Sequence[str] = (), clinical: bool = True) -> None:
        self._local.records.put(key, payload, index_keys=index_keys, clinical=clinical)
        self.writer.submit(NewRecord(key, payload, tuple(index_keys), clinical))

    def get(self, key: str) -> Record | None:
        found = self._local.records.get(key)
        if found is not None:
            return found
        return self._shared.run(lambda c: c.records.get(key))

    def find(self, index_key: str) -> list[Record]:
        """Both caches' records under `index_key`, the newer copy of a record kept when both hold it."""
        newest: dict[str, Record] = {r.key: r for r in self._local.records.find(index_key)}
        for record in self._shared.run(lambda c: c.records.find(index_key)) or []:
            kept = newest.get(record.key)
            if kept is None or record.stored_at > kept.stored_at:
                newest[record.key] = record
        return list(newest.values())

    def delete(self, key: str) -> None:
        self._local.records.delete(key)
        self.writer.submit(_Deletion(key))

    def close(self) -> None:
        """Copy what still waits (for a moment at most), then stop the writer."""
        self.writer.close()
        if self.writer.dropped:
            log.warning("%d records were not copied to the shared cache while it was away", self.writer.dropped)

    def scan(self) -> Iterator[Record]:
        """Every live record of both caches, each key once: the shared cache's (the hospital's) first while it is
        reachable, then those of this kiosk's own that it lacks."""
        seen: set[str] = set()
        cache = self._shared.link.get()
        if cache is not None:
            try:
                for record in cache.records.scan():
                    seen.add(record.key)
                    yield record
            except CacheKeyError:
                raise
            except CacheError as exc:
                self._shared.link.lost(exc, cache)
        for record in self._local.records.scan():
            if record.key not in seen:
                yield record
