"""The outbox: messages (audit events, check-ins) kept until the server acknowledges them, delivered at least once.

States: `queued` (waiting, maybe for a retry's backoff), `sent` (claimed by a sender, under a lease), `acknowledged`
(the server has it; the payload is erased), `failed` (given up, with the reason). A sender that dies while holding
messages loses nothing: when its lease runs out they are claimed again. The server sees a message more than once
only in that case, and the idempotency key lets it ignore the repeat. Payloads, idempotency keys and reasons are
encrypted like records; the idempotency key is also kept as an HMAC so appending it twice keeps one message.

Receipts: an acknowledged message keeps, for `RetryPolicy.acknowledged_retention`, what the server said of it (its id
of what it made or found, and its time), sealed like the payload, and every message names the kiosk that queued it.
The hospital's IT staff read them as `DeliveryState`s: sent, retrying (with the last fault), delivered (with the
receipt) or given up (with the reason).
"""

from __future__ import annotations

import datetime as dt
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from offline_cache.db import Backend, Blinding, Connection, Sealing

_IDEMPOTENCY = b"outbox-idempotency"
_PAYLOAD = b"outbox\x00"
_REASON = b"reason\x00"
_SERVER_ID = b"server-id\x00"
_SERVER_TIME = b"server-time\x00"
"""What a message's payload, its failure reason and its receipt are each bound to, with its idempotency MAC."""
_COLUMNS = (
    "id, kind, state, attempts, created_at, updated_at, due_at, idempotency_mac, reason, kiosk, server_id, server_time"
)


class OutboxState(StrEnum):
    """Where a message stands on its way to the server."""

    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"


class DeliveryState(StrEnum):
    """A message as the hospital's IT staff read it: `sent` (waiting or being sent, no fault yet), `retrying` (a try
    failed and another follows), `delivered` (the server acknowledged it) or `given-up`."""

    SENT = "sent"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    GIVEN_UP = "given-up"


_DELIVERY_SQL: dict[DeliveryState, str] = {
    DeliveryState.SENT: "state IN ('queued', 'sent') AND reason IS NULL",
    DeliveryState.RETRYING: "state IN ('queued', 'sent') AND reason IS NOT NULL",
    DeliveryState.DELIVERED: "state = 'acknowledged'",
    DeliveryState.GIVEN_UP: "state = 'failed'",
}
"""Each delivery state as a condition on the outbox's columns: a waiting message with a fault recorded is retrying."""


def delivery_state(state: OutboxState, has_fault: bool) -> DeliveryState:
    """The delivery state of a message in `state`, with or without a fault recorded."""
    if state is OutboxState.ACKNOWLEDGED:
        return DeliveryState.DELIVERED
    if state is OutboxState.FAILED:
        return DeliveryState.GIVEN_UP
    return DeliveryState.RETRYING if has_fault else DeliveryState.SENT


class ServerReceipt(Protocol):
    """What the server said of a message it took (`lookup.service.receipts.Receipt`, structurally)."""

    @property
    def server_id(self) -> str | None:
        """The server's id of what it made or found (`Type/id`)."""
        ...

    @property
    def server_time(self) -> dt.datetime | None:
        """When the server says it happened (the resource's `meta.lastUpdated`, else the answer's `Date`)."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A claimed message with its payload, for the sender (structurally `lookup.service.cache_protocol.OutboxEntry`)."""

    id: int
    kind: str
    idempotency_key: str
    payload: bytes
    attempts: int


class OutboxItem(BaseModel):
    """A message as the admin screen and `kiosk deliveries` list it: state, timing and receipt, never the payload."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    state: OutboxState
    delivery: DeliveryState
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    next_attempt_at: dt.datetime | None
    reason: str | None
    """The last fault of a message being retried, or why it was given up."""
    kiosk: str | None = None
    """The kiosk that queued it (None for a message queued before kiosks were named)."""
    server_id: str | None = None
    server_time: dt.datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, a delivery lease, and the attempt limit after which a message is failed."""

    max_attempts: int = 8
    base_delay: float = 5.0
    max_delay: float = 900.0
    lease_seconds: float = 60.0
    acknowledged_retention: float = 30 * 86_400.0
    """How long delivered messages stay listed (without payload, with their receipt) for the admin console."""
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

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        """Queue a message, naming the kiosk that queued it; appending the same idempotency key twice keeps one."""
        mac = self._mac(idempotency_key)
        raw = idempotency_key.encode("utf-8")
        sealed = self._sealer.seal(struct.pack(">I", len(raw)) + raw + payload, _PAYLOAD + mac)
        now = self._db.clock()
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                "INSERT INTO outbox (kind, idempotency_mac, state, created_at, updated_at, due_at, sealed, kiosk)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (kind, mac, now, now, now, sealed, kiosk),
            )

    def claim(self, limit: int = 20, *, key: str | None = None) -> list[OutboxMessage]:
        """Take up to `limit` messages due for delivery (queued and due, or sent under an expired lease), mark them
        sent under a new lease, and return them; a message past its attempt limit is failed instead.

        With `key`, only the message of that idempotency key, for a sender about to send it while someone waits: due
        or not, and given up or not (sending it again is a fresh try); none when it is delivered already or another
        sender holds it under a live lease."""
        now = self._db.clock()
        lease_until = now + self.policy.lease_seconds
        claimed: list[OutboxMessage] = []
        select = "SELECT id, kind, idempotency_mac, attempts, sealed, state FROM outbox"
        if key is None:
            query = select + " WHERE state IN ('queued', 'sent') AND due_at <= ? ORDER BY due_at, id LIMIT ?"
            args: tuple[object, ...] = (now, limit)
        else:
            query = select + (
                " WHERE idempotency_mac = ? AND (state IN ('queued', 'failed') OR (state = 'sent' AND due_at <= ?))"
            )
            args = (self._mac(key), now)
        with self._db.transaction(durable=True) as conn:
            rows = conn.execute(query + self._db.skip_locked, args).fetchall()
            for row_id, kind, mac, attempts, sealed, state in rows:
                if state == OutboxState.SENT and attempts >= self.policy.max_attempts:
                    reason = f"no acknowledgement after {attempts} delivery attempts"
                    self._set_failed(conn, row_id, mac, reason, now)
                    continue
                tries = 1 if state == OutboxState.FAILED else attempts + 1
                conn.execute(
                    "UPDATE outbox SET state = 'sent', attempts = ?, lease_until = ?, due_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    (tries, lease_until, lease_until, now, row_id),
                )
                plain = self._sealer.open(sealed, _PAYLOAD + mac)
                (length,) = struct.unpack_from(">I", plain)
                found = plain[4 : 4 + length].decode("utf-8")
                claimed.append(OutboxMessage(row_id, kind, found, plain[4 + length :], tries))
        return claimed

    def acknowledge(self, entry_id: int, receipt: ServerReceipt | None = None) -> None:
        """The server has the message: mark it delivered, keep its receipt (sealed) and erase its payload."""
        now = self._db.clock()
        with self._db.transaction(durable=True) as conn:
            row = conn.execute("SELECT idempotency_mac FROM outbox WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return
            mac = bytes(row[0])
            server_id = receipt.server_id if receipt is not None else None
            server_time = receipt.server_time if receipt is not None else None
            sealed_id = None if server_id is None else self._sealer.seal(server_id.encode(), _SERVER_ID + mac)
            sealed_time = (
                None if server_time is None else self._sealer.seal(server_time.isoformat().encode(), _SERVER_TIME + mac)
            )
            # A second acknowledgement (a repeat after a lease ran out) without a receipt keeps the first one's.
            conn.execute(
                "UPDATE outbox SET state = 'acknowledged', sealed = NULL, reason = NULL, lease_until = NULL,"
                " server_id = COALESCE(?, server_id), server_time = COALESCE(?, server_time), due_at = ?,"
                " updated_at = ? WHERE id = ?",
                (sealed_id, sealed_time, now, now, entry_id),
            )

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None:
        """A delivery failed: queue it again after a backoff (due at once without `backoff`: a try made while
        someone waited, which the next delivery repeats), or give it up with its reason when `retry` is False or the
        attempt limit is reached. `reason` must not hold patient data (it is stored encrypted all the same)."""
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
                    (now + (self.policy.delay(attempts) if backoff else 0.0), sealed_reason, now, entry_id),
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
        """The messages that pass every filter given, newest first, without their payloads: an outbox `state` or a
        `delivery` state, a kind, the kiosk that queued them, queued at `since` or later and before `until`, and
        `search` found (any case) in the kind, the server's id or the last fault."""
        clauses: list[str] = []
        args: list[object] = []
        if state is not None:
            clauses.append("state = ?")
            args.append(OutboxState(state).value)
        if delivery is not None:
            clauses.append(_DELIVERY_SQL[DeliveryState(delivery)])
        for column, value in (("kind", kind), ("kiosk", kiosk)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since.timestamp())
        if until is not None:
            clauses.append("created_at < ?")
            args.append(until.timestamp())
        sql = f"SELECT {_COLUMNS} FROM outbox"
        if clauses:
            sql += " WHERE " + " AND ".join(f"({clause})" for clause in clauses)
        sql += " ORDER BY created_at DESC, id DESC"
        if search is None:
            # The search reads sealed columns, so only a listing without one can be cut short by the database.
            sql += " LIMIT ?"
            args.append(limit)
        wanted = search.casefold() if search is not None else None
        items: list[OutboxItem] = []
        with self._db.reading() as conn:
            for row in conn.execute(sql, args):
                if len(items) >= limit:
                    break
                item = self._item(row)
                if wanted is None or any(
                    wanted in text.casefold() for text in (item.kind, item.server_id, item.reason) if text
                ):
                    items.append(item)
        return items

    def _item(self, row: Any) -> OutboxItem:
        row_id, kind, st, attempts, created, updated, due, mac, reason, kiosk, server_id, server_time = row
        state = OutboxState(st)
        mac = bytes(mac)
        waiting = state in (OutboxState.QUEUED, OutboxState.SENT)
        opened_time = None if server_time is None else self._sealer.open(server_time, _SERVER_TIME + mac).decode()
        return OutboxItem(
            id=row_id,
            kind=kind,
            state=state,
            delivery=delivery_state(state, reason is not None),
            attempts=attempts,
            created_at=dt.datetime.fromtimestamp(created, tz=dt.UTC),
            updated_at=dt.datetime.fromtimestamp(updated, tz=dt.UTC),
            next_attempt_at=_when(due) if waiting else None,
            reason=None if reason is None else self._open_reason(reason, mac),
            kiosk=kiosk,
            server_id=None if server_id is None else self._sealer.open(server_id, _SERVER_ID + mac).decode(),
            server_time=None if opened_time is None else dt.datetime.fromisoformat(opened_time),
        )

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

    def _mac(self, idempotency_key: str) -> bytes:
        return self._blinder.blind(_IDEMPOTENCY, idempotency_key)

    def _set_failed(self, conn: Connection, entry_id: int, mac: bytes, reason: str, now: float) -> None:
        conn.execute(
            "UPDATE outbox SET state = 'failed', reason = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
            (self._seal_reason(reason, mac), now, entry_id),
        )

    def _seal_reason(self, reason: str, mac: bytes) -> bytes:
        return self._sealer.seal(reason.encode("utf-8"), _REASON + mac)

    def _open_reason(self, sealed: bytes, mac: bytes) -> str:
        return self._sealer.open(sealed, _REASON + mac).decode("utf-8")


__all__: Sequence[str] = (
    "DeliveryState",
    "MessageOutbox",
    "OutboxItem",
    "OutboxMessage",
    "OutboxState",
    "RetryPolicy",
    "ServerReceipt",
    "delivery_state",
)
