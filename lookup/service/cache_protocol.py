"""The small protocol through which `lookup` uses an offline cache.

`lookup` never imports the cache package: the kiosk hands it an object that has these methods (the
`offline_cache` store does, structurally). Records are opaque bytes to the cache; `lookup` decides what they hold
(serialised domain models) and which index keys point at them (normalised identifiers, demographic blocking keys).
The cache keeps index keys only as keyed hashes, so it may be given them in clear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol


class CachedRecord(Protocol):
    """One record read back from the cache."""

    @property
    def key(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def stored_at(self) -> dt.datetime:
        """When the record was written (timezone-aware, UTC)."""
        ...


class RecordCache(Protocol):
    """An encrypted store of opaque records, looked up by key or by index key. Expired records are never returned."""

    def put(self, key: str, payload: bytes, *, index_keys: Sequence[str] = (), clinical: bool = True) -> None:
        """Store or replace a record. `clinical` records are refused (silently dropped) in lobby mode."""
        ...

    def get(self, key: str) -> CachedRecord | None: ...

    def find(self, index_key: str) -> Sequence[CachedRecord]:
        """Every live record one of whose index keys equals `index_key`."""
        ...

    def delete(self, key: str) -> None: ...


class OutboxEntry(Protocol):
    """One message waiting to reach the server."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def idempotency_key(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def attempts(self) -> int: ...


class DeliveryReceipt(Protocol):
    """What the server said of a message it took: its id of what it made or found, and its time."""

    @property
    def server_id(self) -> str | None: ...

    @property
    def server_time(self) -> dt.datetime | None: ...


class Outbox(Protocol):
    """Messages (audit events, check-ins, registrations, identity links) kept until the server acknowledges them,
    delivered at least once."""

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        """Queue a message, naming the kiosk that queued it; appending the same idempotency key twice keeps one."""
        ...

    def claim(self, limit: int = 20, *, key: str | None = None) -> Sequence[OutboxEntry]:
        """Take up to `limit` messages due for delivery and mark them sent; with `key`, only that message, due or
        not (none when it is delivered already or another sender holds it)."""
        ...

    def acknowledge(self, entry_id: int, receipt: DeliveryReceipt | None = None) -> None:
        """The server has the message: delivered, with its receipt."""
        ...

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None:
        """Record a failed delivery: retried later with backoff (at the next delivery without `backoff`), or given up
        with its reason when `retry` is False or the attempt limit is reached."""
        ...


class ActivityLog(Protocol):
    """The kiosk's activity log for the admin console: one row per AuditEvent the kiosk writes, with the facts the
    event does not carry. Every value is a kind, a count or a flag: never a patient's identifier, name or birth date
    (`identifier_type` is `cccd`, not the number)."""

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
        """Keep one audited action; the same `event_id` twice keeps one row."""
        ...


class ScannableCache(RecordCache, Protocol):
    """A record cache that can also hand out every live record, for a scan of the whole cache."""

    def scan(self) -> Iterable[CachedRecord]: ...


class PairOffer(Protocol):
    """A pair offered for review: the two record ids, a 0..1 score and what to show of it (opaque to the queue)."""

    @property
    def first(self) -> str: ...

    @property
    def second(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def details(self) -> bytes: ...


class QueuedPair(PairOffer, Protocol):
    """A pair waiting for a decision, `first` and `second` in id order."""

    @property
    def found_at(self) -> dt.datetime: ...


class QueuedDecision(Protocol):
    """A staff member's decision about a pair (`same` or `different`) and where it went (`pending`, `queued` for the
    server, or `local`)."""

    @property
    def first(self) -> str: ...

    @property
    def second(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def staff_id(self) -> str: ...

    @property
    def decided_at(self) -> dt.datetime: ...

    @property
    def delivery(self) -> str: ...


class ReviewQueue(Protocol):
    """The review queue of possible duplicate patients, kept in the cache (`offline_cache.review`): pairs found, and
    decisions remembered, so a decided pair is never offered again."""

    def offer(self, pairs: Iterable[PairOffer]) -> int:
        """Queue pairs for review (a decided one is left as it is); how many were not known before."""
        ...

    def waiting(self, limit: int = 100) -> Sequence[QueuedPair]: ...

    def decide(self, first: str, second: str, state: str, staff_id: str, delivery: str) -> QueuedDecision:
        """Record a decision; a pair decided already keeps its first decision, which is returned."""
        ...

    def decision(self, first: str, second: str) -> QueuedDecision | None: ...

    def pending(self, limit: int = 100) -> Sequence[QueuedDecision]:
        """`same` decisions whose sending is still to be settled."""
        ...

    def set_delivery(self, first: str, second: str, delivery: str) -> None: ...
