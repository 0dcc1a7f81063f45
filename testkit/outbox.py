"""An outbox that keeps count of the audit events it accepted, so a run can check the server received every one."""

from __future__ import annotations

from collections.abc import Sequence

from lookup.service.audit import AUDIT_KIND
from lookup.service.cache_protocol import Outbox, OutboxEntry


class RecordingOutbox:
    """An outbox that remembers the id of every audit event it accepted, to count them on the server later."""

    def __init__(self, inner: Outbox) -> None:
        self.inner = inner
        self.audit_ids: set[str] = set()

    def append(self, kind: str, idempotency_key: str, payload: bytes) -> None:
        self.inner.append(kind, idempotency_key, payload)
        if kind == AUDIT_KIND:
            self.audit_ids.add(idempotency_key)

    def claim(self, limit: int = 20) -> Sequence[OutboxEntry]:
        return self.inner.claim(limit)

    def acknowledge(self, entry_id: int) -> None:
        self.inner.acknowledge(entry_id)

    def fail(self, entry_id: int, reason: str, *, retry: bool = True) -> None:
        self.inner.fail(entry_id, reason, retry=retry)
