"""The review queue of possible duplicate patients: pairs of records found alike, waiting for a staff member to say
whether they are one person, and what was decided, by whom and when.

A pair is kept under a blind key, the HMAC of its two record ids in either order, so finding it again (from either
side, on this kiosk or on another one sharing the hospital's cache) updates the one row. Everything that could name
someone is sealed (AES-256-GCM, bound to that HMAC): the record ids, the pair as it was found (what the finder gives,
opaque here: the records and the reasons) and the decision (the record ids and the staff member). In clear are the
score (so the likeliest pairs are listed first), the state and the times, which name nobody.

States: `waiting` (found, not decided), `same` or `different` (decided). A decided pair is never offered again:
finding it again leaves it as it was decided. Deciding erases the pair as found; the decision keeps what sending it
needs. A `same` decision says where it went (`delivery`): `pending` (whether the server takes it is not known yet),
`queued` (in the outbox, for the server), `local` (kept here only); a `different` one is always `local`. The first
decision of a pair stands: a second one (another kiosk, at the same moment) is answered with the first.
Waiting pairs not found again within the cache's time-to-live are purged, like the records they were found among;
decisions are kept, since they are what stops a pair from being offered again.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from offline_cache.db import Backend, Blinding, Connection, Sealing

_PAIR = b"duplicate-pair"
_FOUND = b"duplicate-found\x00"
_DECISION = b"duplicate-decision\x00"
"""What a pair's HMAC is made under, and what its two ciphertexts are each bound to (with that HMAC)."""


class ReviewState(StrEnum):
    """Where a pair stands: waiting for a person, or decided one way or the other."""

    WAITING = "waiting"
    SAME = "same"
    DIFFERENT = "different"


class DecisionDelivery(StrEnum):
    """Where a decision went: to the server through the outbox, or nowhere but here."""

    PENDING = "pending"
    QUEUED = "queued"
    LOCAL = "local"


class FoundPair(Protocol):
    """A pair as the finder offers it: the two record ids, its score (0..1) and what to show of it (opaque bytes)."""

    @property
    def first(self) -> str: ...

    @property
    def second(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def details(self) -> bytes: ...


class WaitingPair(BaseModel):
    """A pair waiting for a decision, with what the finder kept of it; `first` and `second` in id order."""

    model_config = ConfigDict(frozen=True)

    first: str
    second: str
    score: float
    details: bytes
    found_at: dt.datetime
    """When the pair was first found (UTC)."""


class PairDecision(BaseModel):
    """What a staff member decided about a pair, and where the decision went."""

    model_config = ConfigDict(frozen=True)

    first: str
    second: str
    state: ReviewState
    staff_id: str
    decided_at: dt.datetime
    delivery: DecisionDelivery


def _pack(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def _unpack(packed: bytes) -> list[bytes]:
    parts, at = [], 0
    while at < len(packed):
        (length,) = struct.unpack_from(">I", packed, at)
        parts.append(packed[at + 4 : at + 4 + length])
        at += 4 + length
    return parts


def _when(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


def in_order(first: str, second: str) -> tuple[str, str]:
    """The two record ids of a pair in the order the queue keeps them (its key does not depend on it)."""
    return (first, second) if first <= second else (second, first)


class DuplicateReview:
    """The review queue in the cache database (`lookup.service.cache_protocol.ReviewQueue`, structurally)."""

    def __init__(self, db: Backend, sealer: Sealing, blinder: Blinding, *, ttl_seconds: float) -> None:
        self._db = db
        self._sealer = sealer
        self._blinder = blinder
        self.ttl_seconds = ttl_seconds

    def pair_mac(self, first: str, second: str) -> bytes:
        """The pair's blind key: the same for (a, b) and (b, a)."""
        if first == second:
            raise ValueError("a pair needs two different records")
        low, high = in_order(first, second)
        return self._blinder.blind(_PAIR, f"{low}\n{high}")

    # -- finding -----------------------------------------------------------------------------------------------

    def offer(self, pairs: Iterable[FoundPair]) -> int:
        """Queue pairs for review; returns how many were not known before. A waiting pair found again gets its new
        score and details; a decided one is left as it was decided."""
        rows = []
        for pair in pairs:
            mac = self.pair_mac(pair.first, pair.second)
            low, high = in_order(pair.first, pair.second)
            sealed = self._sealer.seal(_pack(low.encode(), high.encode(), pair.details), _FOUND + mac)
            rows.append((mac, float(pair.score), sealed))
        if not rows:
            return 0
        now = self._db.clock()
        new = 0
        with self._db.transaction() as conn:
            for mac, score, sealed in rows:
                row = conn.execute("SELECT state FROM duplicate_pairs WHERE pair_mac = ?", (mac,)).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO duplicate_pairs (pair_mac, state, score, found_at, updated_at, sealed)"
                        " VALUES (?, 'waiting', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (mac, score, now, now, sealed),
                    )
                    new += 1
                elif row[0] == ReviewState.WAITING:
                    conn.execute(
                        "UPDATE duplicate_pairs SET score = ?, sealed = ?, updated_at = ?"
                        " WHERE pair_mac = ? AND state = 'waiting'",
                        (score, sealed, now, mac),
                    )
        return new

    def waiting(self, limit: int = 100) -> list[WaitingPair]:
        """The pairs waiting for a decision, likeliest first (then oldest first), at most `limit`."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT pair_mac, score, found_at, sealed FROM duplicate_pairs WHERE state = 'waiting'"
                " AND updated_at > ? ORDER BY score DESC, found_at, id LIMIT ?",
                (self._db.clock() - self.ttl_seconds, limit),
            ).fetchall()
        found = []
        for mac, score, found_at, sealed in rows:
            low, high, details = _unpack(self._sealer.open(sealed, _FOUND + bytes(mac)))
            found.append(
                WaitingPair(
                    first=low.decode(), second=high.decode(), score=score, details=details, found_at=_when(found_at)
                )
            )
        return found

    def counts(self) -> dict[ReviewState, int]:
        """How many pairs are in each state (every state listed, zeros included)."""
        counts = dict.fromkeys(ReviewState, 0)
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT state, count(*) FROM duplicate_pairs WHERE state <> 'waiting' OR updated_at > ? GROUP BY state",
                (self._db.clock() - self.ttl_seconds,),
            ).fetchall()
        for state, count in rows:
            counts[ReviewState(state)] = count
        return counts

    # -- deciding ----------------------------------------------------------------------------------------------

    def decide(
        self, first: str, second: str, state: ReviewState | str, staff_id: str, delivery: DecisionDelivery | str
    ) -> PairDecision:
        """Record a staff member's decision about a pair (known to the queue or not: it may have been listed from
        another one); the pair as found is erased. A pair decided already keeps its first decision, which is
        returned."""
        decided = ReviewState(state)
        if decided is ReviewState.WAITING:
            raise ValueError("a decision is `same` or `different`")
        how = DecisionDelivery(delivery) if decided is ReviewState.SAME else DecisionDelivery.LOCAL
        mac = self.pair_mac(first, second)
        low, high = in_order(first, second)
        sealed = self._sealer.seal(_pack(low.encode(), high.encode(), staff_id.encode()), _DECISION + mac)
        now = self._db.clock()
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                "INSERT INTO duplicate_pairs (pair_mac, state, score, found_at, updated_at)"
                " VALUES (?, 'waiting', 0, ?, ?) ON CONFLICT DO NOTHING",
                (mac, now, now),
            )
            conn.execute(
                "UPDATE duplicate_pairs SET state = ?, delivery = ?, decision = ?, decided_at = ?, updated_at = ?,"
                " sealed = NULL WHERE pair_mac = ? AND state = 'waiting'",
                (decided.value, how.value, sealed, now, now, mac),
            )
            kept = self._decision(conn, mac)
        assert kept is not None  # the row was made above if it was missing
        return kept

    def decision(self, first: str, second: str) -> PairDecision | None:
        """The decision about a pair, or None while it is undecided (or unknown)."""
        mac = self.pair_mac(first, second)
        with self._db.reading() as conn:
            return self._decision(conn, mac)

    def pending(self, limit: int = 100) -> list[PairDecision]:
        """`same` decisions whose sending is still to be settled, oldest first."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT pair_mac, state, decided_at, delivery, decision FROM duplicate_pairs"
                " WHERE delivery = 'pending' ORDER BY decided_at, id LIMIT ?",
                (limit,),
            ).fetchall()
        return [self._opened(*row) for row in rows]

    def set_delivery(self, first: str, second: str, delivery: DecisionDelivery | str) -> None:
        """Say where a `same` decision went once that is known (queued for the server, or kept here only)."""
        mac = self.pair_mac(first, second)
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                "UPDATE duplicate_pairs SET delivery = ?, updated_at = ? WHERE pair_mac = ? AND state = 'same'",
                (DecisionDelivery(delivery).value, self._db.clock(), mac),
            )

    # -- upkeep ------------------------------------------------------------------------------------------------

    def purge(self, *, everything: bool = False) -> int:
        """Delete the waiting pairs not found again within the time-to-live; with `everything`, every pair and every
        decision. Returns the count."""
        with self._db.transaction() as conn:
            if everything:
                return conn.execute("DELETE FROM duplicate_pairs").rowcount
            return conn.execute(
                "DELETE FROM duplicate_pairs WHERE state = 'waiting' AND updated_at <= ?",
                (self._db.clock() - self.ttl_seconds,),
            ).rowcount

    def _decision(self, conn: Connection, mac: bytes) -> PairDecision | None:
        row = conn.execute(
            "SELECT pair_mac, state, decided_at, delivery, decision FROM duplicate_pairs"
            " WHERE pair_mac = ? AND state <> 'waiting'",
            (mac,),
        ).fetchone()
        return None if row is None else self._opened(*row)

    def _opened(self, mac: bytes, state: str, decided_at: float, delivery: str, sealed: bytes) -> PairDecision:
        low, high, staff = _unpack(self._sealer.open(sealed, _DECISION + bytes(mac)))
        return PairDecision(
            first=low.decode(),
            second=high.decode(),
            state=ReviewState(state),
            staff_id=staff.decode(),
            decided_at=_when(decided_at),
            delivery=DecisionDelivery(delivery),
        )


__all__: Sequence[str] = (
    "DecisionDelivery",
    "DuplicateReview",
    "FoundPair",
    "PairDecision",
    "ReviewState",
    "WaitingPair",
    "in_order",
)
