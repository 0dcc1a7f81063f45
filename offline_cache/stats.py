"""What the cache holds, in figures only: counts, bytes, ages and outbox states, never a record or a key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from offline_cache.db import Backend
from offline_cache.outbox import MessageOutbox
from offline_cache.store import RecordStore


class SharedState(BaseModel):
    """The shared cache as this kiosk sees it, for `kiosk cache stats`, `kiosk doctor` and the admin screen."""

    model_config = ConfigDict(frozen=True)

    state: str
    """`connected`, `unreachable` (retried in the background) or `refused` (needs a person)."""
    where: str
    problem: str | None = None
    records: int | None = None
    outbox: dict[str, int] | None = None


class CacheStats(BaseModel):
    """The cache's figures for `kiosk cache stats` and the admin screen."""

    model_config = ConfigDict(frozen=True)

    path: str
    records: int
    """Records that may still be returned."""
    clinical_records: int
    expired_records: int
    """Records past their time-to-live (never returned), waiting for the purge."""
    stored_bytes: int
    """Encrypted record bytes counted against the size cap."""
    max_bytes: int
    file_bytes: int
    """The database file and its write-ahead log on disk."""
    oldest_age_seconds: float | None
    """Age of the oldest live record."""
    ttl_seconds: float
    clinical_allowed: bool
    outbox: dict[str, int]
    """Messages per delivery state: queued, sent, acknowledged, failed."""
    outbox_oldest_waiting_seconds: float | None
    hospital_cache: SharedState | None = None
    """The hospital's shared cache, when this kiosk is on one."""


def collect(db: Backend, store: RecordStore, outbox: MessageOutbox, file_bytes: int) -> CacheStats:
    now = db.clock()
    horizon = now - store.ttl_seconds
    with db.reading() as conn:
        live, clinical, oldest = conn.execute(
            "SELECT count(*), coalesce(sum(clinical), 0), min(stored_at) FROM records WHERE stored_at > ?"
            + ("" if store.clinical_allowed else " AND clinical = 0"),
            (horizon,),
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    waiting = outbox.oldest_waiting()
    return CacheStats(
        path=db.label,
        records=live,
        clinical_records=clinical,
        expired_records=total - live,
        stored_bytes=store.stored_bytes,
        max_bytes=store.max_bytes,
        file_bytes=file_bytes,
        oldest_age_seconds=None if oldest is None else round(now - oldest, 3),
        ttl_seconds=store.ttl_seconds,
        clinical_allowed=store.clinical_allowed,
        outbox={state.value: count for state, count in outbox.states().items()},
        outbox_oldest_waiting_seconds=None if waiting is None else round(now - waiting.timestamp(), 3),
    )
