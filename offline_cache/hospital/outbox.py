"""The shared outbox while it is reachable, this kiosk's own otherwise."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable

from offline_cache.cache import OfflineCache
from offline_cache.hospital.link import SharedRunner
from offline_cache.outbox import (
    DeliveryState,
    MessageOutbox,
    OutboxItem,
    OutboxMessage,
    OutboxState,
    ServerReceipt,
)
from offline_cache.shared import SharedCache


class HospitalOutbox:
    """The shared outbox while it is reachable, this kiosk's own otherwise (`Outbox`, structurally).

    Claimed messages are handed out under ids of this object's own, so acknowledging (with its receipt) or failing
    one reaches the outbox it came from; this kiosk's own backlog is claimed first, being the one no other kiosk can
    deliver. The listing is both outboxes' messages, newest first.
    """

    def __init__(self, local: OfflineCache, shared: SharedRunner) -> None:
        self._local = local
        self._shared = shared
        self._ids = itertools.count(1)
        self._claimed: dict[int, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        def to_shared(cache: SharedCache) -> bool:
            cache.outbox.append(kind, idempotency_key, payload, kiosk=kiosk)
            return True

        if self._shared.run(to_shared) is None:
            self._local.outbox.append(kind, idempotency_key, payload, kiosk=kiosk)

    def claim(self, limit: int = 20, *, key: str | None = None) -> list[OutboxMessage]:
        own = self._local.outbox.claim(limit, key=key)
        wanted = limit - len(own) if key is None else (0 if own else 1)
        shared = self._shared.run(lambda c: c.outbox.claim(wanted, key=key)) if wanted > 0 else None
        claimed = []
        with self._lock:
            for where, entries in (("own", own), ("hospital", shared or [])):
                for entry in entries:
                    handle = next(self._ids)
                    self._claimed[handle] = (where, entry.id)
                    claimed.append(
                        OutboxMessage(handle, entry.kind, entry.idempotency_key, entry.payload, entry.attempts)
                    )
        return claimed

    def acknowledge(self, entry_id: int, receipt: ServerReceipt | None = None) -> None:
        self._settle(entry_id, lambda outbox, real: outbox.acknowledge(real, receipt))

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None:
        self._settle(entry_id, lambda outbox, real: outbox.fail(real, reason, retry=retry, backoff=backoff))

    def states(self) -> dict[OutboxState, int]:
        """Messages per state, this kiosk's own and the shared outbox's added together."""
        counts = self._local.outbox.states()
        for state, count in (self._shared.run(lambda c: c.outbox.states()) or {}).items():
            counts[state] += count
        return counts

    def entries(
        self,
        state: OutboxState | str | None = None,
        *,
        delivery: DeliveryState | str | None = None,
        kind: str | None = None,
        kiosk: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        search: str | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """This kiosk's own backlog and the shared outbox's messages that pass the filters (`MessageOutbox.entries`),
        newest first; the shared ones only while the shared cache answers."""

        def listed(outbox: MessageOutbox) -> list[OutboxItem]:
            return outbox.entries(
                state,
                delivery=delivery,
                kind=kind,
                kiosk=kiosk,
                since=since,
                until=until,
                search=search,
                limit=limit,
            )

        both = listed(self._local.outbox) + (self._shared.run(lambda c: listed(c.outbox)) or [])
        return sorted(both, key=lambda item: item.created_at, reverse=True)[:limit]

    def _settle(self, entry_id: int, change: Callable[[MessageOutbox, int], None]) -> None:
        with self._lock:
            where, real = self._claimed.pop(entry_id, ("", 0))
        if where == "own":
            change(self._local.outbox, real)
        elif where == "hospital":
            # Lost with the connection: the lease brings the message back, and its idempotent request is harmless.
            self._shared.run(lambda c: change(c.outbox, real))
