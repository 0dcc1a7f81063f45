"""Records: opaque payloads, encrypted one by one, found by their key or by an index key through blind indexes.

A row holds no value in clear. The record key is stored only as its HMAC (`key_mac`); the key itself travels inside
the ciphertext, so `find` can return it. Each ciphertext is AES-256-GCM with the row's `key_mac` as associated data:
a ciphertext moved to another row fails authentication. Index keys (normalised identifiers, demographic blocking
keys) are stored only as HMACs under a separate key.

Expiry is decided at read time from `stored_at` and the time-to-live this cache was opened with, so an expired
record is never returned even before a purge deletes it, and a shorter time-to-live (a kiosk moved from the ER to the
reception desk) applies at once. Reads mark records used for the least-recently-used eviction; those marks are kept
in memory and written with the next write, so a read never waits on a disk write.
"""

from __future__ import annotations

import datetime as dt
import hmac
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from offline_cache.db import Backend, Blinding, Connection, Sealing
from offline_cache.errors import CacheCorruptError

_KEY = b"record-key"
_INDEX = b"index-key"
_ROW_OVERHEAD = 64
"""Bytes counted per row and per index entry on top of the ciphertext, for the size cap."""
_TOUCH_BATCH = 512
PURGE_INTERVAL = 3600.0
"""Seconds between the purges of expired records that writes run on their own, so a kiosk nobody purges stays lean."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back: its key, its payload and when it was written (UTC)."""

    key: str
    payload: bytes
    stored_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewRecord:
    """One record to write with `RecordStore.put_many`."""

    key: str
    payload: bytes
    index_keys: Sequence[str] = ()
    clinical: bool = True


def _pack(key: str, payload: bytes) -> bytes:
    raw = key.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw + payload


def _unpack(plain: bytes) -> tuple[str, bytes]:
    (length,) = struct.unpack_from(">I", plain)
    return plain[4 : 4 + length].decode("utf-8"), plain[4 + length :]


def _when(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


class RecordStore:
    """The encrypted record store (`lookup.service.cache_protocol.RecordCache`, structurally)."""

    def __init__(
        self,
        db: Backend,
        sealer: Sealing,
        blinder: Blinding,
        *,
        ttl_seconds: float,
        max_bytes: int,
        clinical_allowed: bool,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._blinder = blinder
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self.clinical_allowed = clinical_allowed
        self._touched: dict[int, float] = {}
        self._last_purge = db.clock()
        with db.reading() as conn:
            self._bytes: int = conn.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()[0]

    # -- the RecordCache protocol -------------------------------------------------------------------------------

    def put(self, key: str, payload: bytes, *, index_keys: Sequence[str] = (), clinical: bool = True) -> None:
        """Store or replace a record; a clinical record is dropped when this kiosk may not keep clinical data."""
        self.put_many([NewRecord(key, payload, index_keys, clinical)])

    def put_many(self, records: Iterable[NewRecord]) -> int:
        """Store several records in one transaction (a prefetch); returns how many were stored."""
        rows = [self._seal(r) for r in records if self.clinical_allowed or not r.clinical]
        if not rows:
            return 0
        now = self._db.clock()
        with self._db.transaction() as conn:
            added = 0
            for key_mac, clinical, sealed, index_macs in rows:
                size = len(sealed) + _ROW_OVERHEAD * (1 + len(index_macs))
                old = conn.execute("SELECT id, size FROM records WHERE key_mac = ?", (key_mac,)).fetchone()
                inserted = None
                if old is None:
                    # Another kiosk on a shared cache may insert the same record between the SELECT and here.
                    inserted = conn.execute(
                        "INSERT INTO records (key_mac, clinical, stored_at, last_used, size, sealed)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_mac) DO NOTHING RETURNING id",
                        (key_mac, clinical, now, now, size, sealed),
                    ).fetchone()
                    if inserted is None:
                        old = conn.execute("SELECT id, size FROM records WHERE key_mac = ?", (key_mac,)).fetchone()
                if inserted is not None:
                    row_id = inserted[0]
                else:
                    row_id = old[0]
                    added -= old[1]
                    conn.execute(
                        "UPDATE records SET clinical = ?, stored_at = ?, last_used = ?, size = ?, sealed = ?"
                        " WHERE id = ?",
                        (clinical, now, now, size, sealed, row_id),
                    )
                    conn.execute("DELETE FROM record_index WHERE record_id = ?", (row_id,))
                conn.executemany(
                    "INSERT INTO record_index (index_mac, record_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(mac, row_id) for mac in index_macs],
                )
                added += size
            self._flush_touches(conn)
            total = self._bytes + added
            if now - self._last_purge >= PURGE_INTERVAL:
                self._delete_stale(conn, now)
                # Count again: other writers (a purge command, or other kiosks on a shared cache) change the total.
                total = conn.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()[0]
            total = self._evict(conn, total, now)
        if now - self._last_purge >= PURGE_INTERVAL:
            self._last_purge = now
        self._bytes = total
        return len(rows)

    def get(self, key: str) -> Record | None:
        key_mac = self._blinder.blind(_KEY, key)
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT id, stored_at, sealed FROM records WHERE key_mac = ? AND stored_at > ?"
                + self._clinical_filter(),
                (key_mac, self._db.clock() - self.ttl_seconds),
            ).fetchone()
            if row is None:
                return None
            record = self._open(key_mac, row[1], row[2])
            if not hmac.compare_digest(record.key.encode("utf-8"), key.encode("utf-8")):
                raise CacheCorruptError(f"a row of the offline cache {self._db.label} holds another key", self._db.file)
            self._touch(row[0])
        return record

    def find(self, index_key: str, *, limit: int = 1000) -> list[Record]:
        """Every live record one of whose index keys equals `index_key` (at most `limit`, most recent first)."""
        index_mac = self._blinder.blind(_INDEX, index_key)
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT r.id, r.key_mac, r.stored_at, r.sealed FROM record_index i JOIN records r ON r.id = i.record_id"
                " WHERE i.index_mac = ? AND r.stored_at > ?"
                + self._clinical_filter("r.clinical")
                + " ORDER BY r.stored_at DESC LIMIT ?",
                (index_mac, self._db.clock() - self.ttl_seconds, limit),
            ).fetchall()
            found = [self._open(row[1], row[2], row[3]) for row in rows]
            for row in rows:
                self._touch(row[0])
        return found

    def scan(self, *, batch: int = 500) -> Iterator[Record]:
        """Every live record, in the order they were first written, read `batch` rows at a time: each batch is its
        own short read, so a scan of the whole cache never keeps a lookup waiting. Not a use: nothing is marked."""
        after = 0
        while True:
            with self._db.reading() as conn:
                rows = conn.execute(
                    "SELECT id, key_mac, stored_at, sealed FROM records WHERE id > ? AND stored_at > ?"
                    + self._clinical_filter()
                    + " ORDER BY id LIMIT ?",
                    (after, self._db.clock() - self.ttl_seconds, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._open(row[1], row[2], row[3])
            after = rows[-1][0]

    def delete(self, key: str) -> None:
        key_mac = self._blinder.blind(_KEY, key)
        with self._db.transaction() as conn:
            row = conn.execute("DELETE FROM records WHERE key_mac = ? RETURNING size", (key_mac,)).fetchone()
        if row is not None:
            self._bytes -= row[0]

    # -- upkeep ------------------------------------------------------------------------------------------------

    def purge(self, *, everything: bool = False) -> int:
        """Delete expired records (and clinical ones this kiosk may not keep), or every record; returns the count."""
        now = self._db.clock()
        with self._db.transaction() as conn:
            if everything:
                self._touched.clear()
                count = conn.execute("DELETE FROM records").rowcount
            else:
                count = self._delete_stale(conn, now)[0]
            total = conn.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()[0]
        self._bytes = total
        self._last_purge = now
        return count

    def _delete_stale(self, conn: Connection, now: float) -> tuple[int, int]:
        """Delete what may no longer be returned; returns how many rows and how many counted bytes."""
        sql = "DELETE FROM records WHERE stored_at <= ?"
        if not self.clinical_allowed:
            sql += " OR clinical = 1"
        sizes = [row[0] for row in conn.execute(sql + " RETURNING size", (now - self.ttl_seconds,)).fetchall()]
        return len(sizes), sum(sizes)

    def flush(self) -> None:
        """Write the pending least-recently-used marks."""
        if self._touched:
            with self._db.transaction() as conn:
                self._flush_touches(conn)

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    # -- internals ---------------------------------------------------------------------------------------------

    def _clinical_filter(self, column: str = "clinical") -> str:
        """The SQL condition that hides clinical rows from a kiosk that may not keep them."""
        return "" if self.clinical_allowed else f" AND {column} = 0"

    def _seal(self, record: NewRecord) -> tuple[bytes, int, bytes, list[bytes]]:
        key_mac = self._blinder.blind(_KEY, record.key)
        sealed = self._sealer.seal(_pack(record.key, record.payload), b"record\x00" + key_mac)
        index_macs = list(dict.fromkeys(self._blinder.blind(_INDEX, k) for k in record.index_keys))
        return key_mac, int(record.clinical), sealed, index_macs

    def _open(self, key_mac: bytes, stored_at: float, sealed: bytes) -> Record:
        key, payload = _unpack(self._sealer.open(sealed, b"record\x00" + key_mac))
        return Record(key=key, payload=payload, stored_at=_when(stored_at))

    def _touch(self, row_id: int) -> None:
        self._touched[row_id] = self._db.clock()
        if len(self._touched) >= _TOUCH_BATCH:
            self.flush()

    def _flush_touches(self, conn: Connection) -> None:
        if not self._touched:
            return
        items = [(when, row_id, when) for row_id, when in self._touched.items()]
        self._touched.clear()
        conn.executemany("UPDATE records SET last_used = ? WHERE id = ? AND last_used < ?", items)

    def _evict(self, conn: Connection, total: int, now: float) -> int:
        """Bring the records under the size cap, expired ones first, then the least recently used; returns the
        bytes left."""
        if total <= self.max_bytes:
            return total
        # Another process (`kiosk cache purge`) may have changed the file: count again before deleting anything.
        total = conn.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()[0]
        if total <= self.max_bytes:
            return total
        freed = conn.execute("DELETE FROM records WHERE stored_at <= ? RETURNING size", (now - self.ttl_seconds,))
        total -= sum(r[0] for r in freed.fetchall())
        target = int(self.max_bytes * 0.9)
        count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        while total > target and count:
            # Delete about as many of the least recently used as the excess needs, judged by the mean row size.
            batch = max(1, min(1000, (total - target) * count // max(total, 1)))
            rows = conn.execute(
                "DELETE FROM records WHERE id IN (SELECT id FROM records ORDER BY last_used, id LIMIT ?)"
                " RETURNING size",
                (batch,),
            ).fetchall()
            if not rows:
                break
            count -= len(rows)
            total -= sum(r[0] for r in rows)
        return total
