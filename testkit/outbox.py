"""An outbox that keeps count of the audit events it accepted, so a run can check the server received every one."""

from __future__ import annotations

from collections.abc import Sequence

from lookup.service.audit import AUDIT_KIND
from lookup.service.cache_protocol import DeliveryReceipt, Outbox, OutboxEntry


class RecordingOutbox:
    """An outbox that remembers the id of every audit event it accepted, to count them on the server later."""

    def __init__(self, inner: Outbox) -> None:
        self.inner = inner
        self.audit_ids: set[str] = set()

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        self.inner.append(kind, idempotency_key, payload, kiosk=kiosk)
        if kind == AUDIT_KIND:
            self.audit_ids.add(idempotency_key)

    def claim(self, limit: int = 20, *, key: str | None = None) -> Sequence[OutboxEntry]:
        return self.inner.claim(limit, key=key)

    def acknowledge(self, entry_id: int, receipt: DeliveryReceipt | None = None) -> None:
        self.inner.acknowledge(entry_id, receipt)

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None:
        self.inner.fail(entry_id, reason, retry=retry, backoff=backoff)
