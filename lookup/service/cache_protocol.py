"""The small protocol through which `lookup` uses an offline cache.

`lookup` never imports the cache package: the kiosk hands it an object that has these methods (the
`offline_cache` store does, structurally). Records are opaque bytes to the cache; `lookup` decides what they hold
(serialised domain models) and which index keys point at them (normalised identifiers, demographic blocking keys).
The cache keeps index keys only as keyed hashes, so it may be given them in clear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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


class Outbox(Protocol):
    """Messages (audit events, check-ins) kept until the server acknowledges them, delivered at least once."""

    def append(self, kind: str, idempotency_key: str, payload: bytes) -> None:
        """Queue a message; appending the same idempotency key twice keeps one."""
        ...

    def claim(self, limit: int = 20) -> Sequence[OutboxEntry]:
        """Take up to `limit` messages due for delivery and mark them sent."""
        ...

    def acknowledge(self, entry_id: int) -> None: ...

    def fail(self, entry_id: int, reason: str, *, retry: bool = True) -> None:
        """Record a failed delivery: retried later with backoff, or given up with its reason when `retry` is False
        or the attempt limit is reached."""
        ...
