"""The outbox: messages (audit events, check-ins) kept until the server acknowledges them, delivered at least once.

States: `queued` (waiting, maybe for a retry's backoff), `sent` (claimed by a sender, under a lease), `acknowledged`
(the server has it; the payload is erased), `failed` (given up, with the reason). A sender that dies while holding
messages loses nothing: when its lease runs out they are claimed again. The server sees a message more than once
only in that case, and the idempotency key lets it ignore the repeat. Payloads, idempotency keys and reasons are
encrypted like records; the idempotency key is also kept as an HMAC so appending it twice keeps one message.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from offline_cache.db import Backend, Blinding, Connection, Sealing

_IDEMPOTENCY = b"outbox-idempotency"
_PAYLOAD = b"outbox\x00"
_REASON = b"reason\x00"
"""What a message's payload and its failure reason are each bound to, with the message's idempotency MAC."""


class OutboxState(StrEnum):
    """Where a message stands on its way to the server."""

    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A claimed message with its payload, for the sender (structurally `lookup.service.cache_protocol.OutboxEntry`)."""

    id: int
    kind: str
    idempotency_key: str
    payload: bytes
    attempts: int


class OutboxItem(BaseModel):
    """A message as the admin screen lists it: state and timing, never the payload."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    state: OutboxState
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    next_attempt_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, a delivery lease, and the attempt limit after which a message is failed."""

    max_attempts: int = 8
    base_delay: float = 5.0
    max_delay: float = 900.0
    lease_seconds: float = 60.0
    acknowledged_retention: float = 86_400.0
    """How long delivered messages stay listed (without payload) for the admin screen."""
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones: doubling, capped, with half of it jittered so
        kiosks that lost the network together do not retry together."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(attempts - 1, 0))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))


def _when(timestamp: float | None) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


class MessageOutbox:
    """The outbox in the cache database (`lookup.service.cache_protocol.Outbox`, structurally)."""

    def __init__(self, db: Backend, sealer: Sealing, blinder: Blinding, policy: RetryPolicy | None = None) -> None:
        self._db = db
        self._sealer = sealer
        self._blinder = blinder
        self.policy = policy or RetryPolicy()

    def append(self, kind: str, idempotency_key: str, payload: bytes) -> None:
        """Queue a message; appending the same idempotency key twice keeps one."""
        mac = self._blinder.blind(_IDEMPOTENCY, idempotency_key)
        raw = idempotency_key.encode("utf-8")
        sealed = self._sealer.seal(struct.pack(">I", len(raw)) + raw + payload, _PAYLOAD + mac)
        now = self._db.clock()
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                "INSERT INTO outbox (kind, idempotency_mac, state, created_at, updated_at, due_at, sealed)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (kind, mac, now, now, now, sealed),
            )

    def claim(self, limit: int = 20) -> list[OutboxMessage]:
        """Take up to `limit` messages due for delivery (queued and due, or sent under an expired lease), mark them
        sent under a new lease, and return them; a message past its attempt limit is failed instead."""
        now = self._db.clock()
        lease_until = now + self.policy.lease_seconds
        claimed: list[OutboxMessage] = []
        with self._db.transaction(durable=True) as conn:
            rows = conn.execute(
                "SELECT id, kind, idempotency_mac, attempts, sealed, state FROM outbox"
                " WHERE state IN ('queued', 'sent') AND due_at <= ? ORDER BY due_at, id LIMIT ?" + self._db.skip_locked,
                (now, limit),
            ).fetchall()
            for row_id, kind, mac, attempts, sealed, state in rows:
                if state == OutboxState.SENT and attempts >= self.policy.max_attempts:
                    reason = f"no acknowledgement after {attempts} delivery attempts"
                    self._set_failed(conn, row_id, mac, reason, now)
                    continue
                conn.execute(
                    "UPDATE outbox SET state = 'sent', attempts = attempts + 1, lease_until = ?, due_at = ?,"
                    " updated_at = ? WHERE id = ?",
                    (lease_until, lease_until, now, row_id),
                )
                plain = self._sealer.open(sealed, _PAYLOAD + mac)
                (length,) = struct.unpack_from(">I", plain)
                key = plain[4 : 4 + length].decode("utf-8")
                claimed.append(OutboxMessage(row_id, kind, key, plain[4 + length :], attempts + 1))
        return claimed

    def acknowledge(self, entry_id: int) -> None:
        """The server has the message: mark it delivered and erase its payload."""
        self._move(entry_id, "state = 'acknowledged', sealed = NULL, reason = NULL, lease_until = NULL")

    def fail(self, entry_id: int, reason: str, *, retry: bool = True) -> None:
        """A delivery failed: queue it again after a backoff, or give it up with its reason when `retry` is False or
        the attempt limit is reached. `reason` must not hold patient data (it is stored encrypted all the same)."""
        now = self._db.clock()
        with self._db.transaction(durable=True) as conn:
            row = conn.execute(
                "SELECT attempts, idempotency_mac, state FROM outbox WHERE id = ?", (entry_id,)
            ).fetchone()
            if row is None or row[2] == OutboxState.ACKNOWLEDGED:
                return
            attempts, mac = row[0], row[1]
            sealed_reason = self._seal_reason(reason, mac)
            if retry and attempts < self.policy.max_attempts:
                conn.execute(
                    "UPDATE outbox SET state = 'queued', due_at = ?, lease_until = NULL, reason = ?, updated_at = ?"
                    " WHERE id = ?",
                    (now + self.policy.delay(attempts), sealed_reason, now, entry_id),
                )
            else:
                if retry:
                    reason = f"gave up after {attempts} attempts: {reason}"
                self._set_failed(conn, entry_id, mac, reason, now)

    def requeue(self, entry_id: int) -> None:
        """Give a failed message a fresh set of attempts (an administrator's decision)."""
        self._move(entry_id, "state = 'queued', attempts = 0", where="state = 'failed'")

    def states(self) -> dict[OutboxState, int]:
        """How many messages are in each state (every state listed, zeros included)."""
        counts = dict.fromkeys(OutboxState, 0)
        with self._db.reading() as conn:
            for state, count in conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"):
                counts[OutboxState(state)] = count
        return counts

    def entries(self, state: OutboxState | str | None = None, *, limit: int = 100) -> list[OutboxItem]:
        """The messages in one state (or all), oldest first, without their payloads."""
        sql = "SELECT id, kind, state, attempts, created_at, updated_at, due_at, idempotency_mac, reason FROM outbox"
        args: list[object] = []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(OutboxState(state).value)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        with self._db.reading() as conn:
            rows = conn.execute(sql, args).fetchall()
        items = []
        for row_id, kind, st, attempts, created, updated, due, mac, reason in rows:
            waiting = st in (OutboxState.QUEUED, OutboxState.SENT)
            items.append(
                OutboxItem(
                    id=row_id,
                    kind=kind,
                    state=OutboxState(st),
                    attempts=attempts,
                    created_at=dt.datetime.fromtimestamp(created, tz=dt.UTC),
                    updated_at=dt.datetime.fromtimestamp(updated, tz=dt.UTC),
                    next_attempt_at=_when(due) if waiting else None,
                    reason=None if reason is None else self._open_reason(reason, mac),
                )
            )
        return items

    def oldest_waiting(self) -> dt.datetime | None:
        """When the oldest message not yet acknowledged nor failed was queued."""
        with self._db.reading() as conn:
            row = conn.execute("SELECT min(created_at) FROM outbox WHERE state IN ('queued', 'sent')").fetchone()
        return _when(row[0])

    def purge(self, *, everything: bool = False, delivered: bool = False) -> int:
        """Delete acknowledged messages past their retention; with `delivered` every acknowledged one, with
        `everything` every message whatever its state."""
        now = self._db.clock()
        horizon = now if delivered else now - self.policy.acknowledged_retention
        with self._db.transaction(durable=True) as conn:
            if everything:
                return conn.execute("DELETE FROM outbox").rowcount
            return conn.execute(
                "DELETE FROM outbox WHERE state = 'acknowledged' AND updated_at <= ?", (horizon,)
            ).rowcount

    def _move(self, entry_id: int, change: str, *, where: str = "") -> None:
        """One message changed as `change` says (when `where` holds), due and updated now; both are SQL written in
        this class, never a value."""
        now = self._db.clock()
        condition = f" AND {where}" if where else ""
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                f"UPDATE outbox SET {change}, due_at = ?, updated_at = ? WHERE id = ?{condition}", (now, now, entry_id)
            )

    def _set_failed(self, conn: Connection, entry_id: int, mac: bytes, reason: str, now: float) -> None:
        conn.execute(
            "UPDATE outbox SET state = 'failed', reason = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
            (self._seal_reason(reason, mac), now, entry_id),
        )

    def _seal_reason(self, reason: str, mac: bytes) -> bytes:
        return self._sealer.seal(reason.encode("utf-8"), _REASON + mac)

    def _open_reason(self, sealed: bytes, mac: bytes) -> str:
        return self._sealer.open(sealed, _REASON + mac).decode("utf-8")


__all__: Sequence[str] = ("MessageOutbox", "OutboxItem", "OutboxMessage", "OutboxState", "RetryPolicy")
