"""The SQLite file: connection settings, schema, transactions and the error translation around them.

WAL journal, so the file is consistent at every instant: a process killed in the middle of a write leaves the last
committed state, never a torn one. Two levels of durability, chosen per transaction:
- records commit with `synchronous=NORMAL`: a committed record survives the process being killed (it is in the
  operating system's hands), and a power cut may at worst forget the last few, which the next lookup fetches again;
  a put then costs no disk flush, so it stays fast when other programs keep the disk busy;
- outbox messages and key metadata commit with `synchronous=FULL` (`transaction(durable=True)`): flushed to the disk
  before the call returns, because an audit event or a check-in exists nowhere else.
One connection per cache, guarded by a lock, so the kiosk's threads may share it.

Private at rest: the folder is made 0700 and the database 0600 on every open, whatever they were before (an earlier
version, a restored backup, a hand-made folder). The database file is made 0600 before SQLite opens it, and SQLite
gives its write-ahead log and shared-memory index the database's own mode, so they are born 0600 too; any that
already exist are made 0600 as well. The process umask is left alone: it is shared by every thread of the kiosk.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from offline_cache.errors import CacheError, sqlite_errors

FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")
"""The database and the files SQLite keeps beside it."""

BUSY_TIMEOUT = 2.0
"""Seconds to wait for another process's write (a purge); a cache that stays busy longer is skipped, not waited for."""

# `records_age` covers the expiry filter, the size total and the figures, so they never read the ciphertexts: opening a
# cache of 100,000 records takes milliseconds, not a scan of its whole file.
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value {blob} NOT NULL){without_rowid};
CREATE TABLE IF NOT EXISTS records (
    id {row_id},
    key_mac {blob} NOT NULL UNIQUE,
    clinical INTEGER NOT NULL,
    stored_at {real} NOT NULL,
    last_used {real} NOT NULL,
    size INTEGER NOT NULL,
    sealed {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS records_age ON records (stored_at, clinical, size);
CREATE INDEX IF NOT EXISTS records_last_used ON records (last_used);
CREATE TABLE IF NOT EXISTS record_index (
    index_mac {blob} NOT NULL,
    record_id {row_ref} NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    PRIMARY KEY (index_mac, record_id)
){without_rowid};
CREATE INDEX IF NOT EXISTS record_index_record ON record_index (record_id);
CREATE TABLE IF NOT EXISTS outbox (
    id {row_id},
    kind TEXT NOT NULL,
    idempotency_mac {blob} NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    due_at {real} NOT NULL,
    lease_until {real},
    sealed {blob},
    reason {blob}
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, due_at);
"""

# One row per action the kiosk audits, for the admin console's search and counts (`offline_cache.activity`). The
# audit event's id points into the server's audit log, which names the patient, so it is kept blinded and sealed like
# an outbox key; the rest names kinds, never a person. `recorded_hour` (whole hours since the epoch) lets both
# databases count per hour with the same integer SQL.
_ACTIVITY = """
CREATE TABLE IF NOT EXISTS activity (
    id {row_id},
    event_mac {blob} NOT NULL UNIQUE,
    event_sealed {blob} NOT NULL,
    recorded_at {real} NOT NULL,
    recorded_hour INTEGER NOT NULL,
    kiosk TEXT NOT NULL,
    staff TEXT,
    mode TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    identifier_type TEXT,
    offline INTEGER NOT NULL,
    unsigned INTEGER NOT NULL,
    invalid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_recorded ON activity (recorded_at);
CREATE INDEX IF NOT EXISTS activity_kiosk ON activity (kiosk, recorded_at);
CREATE INDEX IF NOT EXISTS activity_staff ON activity (staff, recorded_at);
"""

# Delivery receipts: which kiosk queued a message (a name, in clear), and what the server made of it, its id and its
# time, sealed like the payload (a registration's id is a temporary number). `outbox_listing` serves the console's
# newest-first listing of every message, delivered ones included.
_RECEIPTS = """
ALTER TABLE outbox ADD COLUMN kiosk TEXT;
ALTER TABLE outbox ADD COLUMN server_id {blob};
ALTER TABLE outbox ADD COLUMN server_time {blob};
CREATE INDEX IF NOT EXISTS outbox_listing ON outbox (created_at, kiosk);
"""

# The review queue of possible duplicate patients (`offline_cache.review`): one row per pair of records, found by the
# HMAC of the two record ids in either order. The score (to list the likeliest first), the state and the times are
# in clear and name nobody; the pair as found and the decision (the record ids, the staff member) are sealed.
_DUPLICATES = """
CREATE TABLE IF NOT EXISTS duplicate_pairs (
    id {row_id},
    pair_mac {blob} NOT NULL UNIQUE,
    state TEXT NOT NULL,
    score {real} NOT NULL,
    found_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    decided_at {real},
    delivery TEXT,
    sealed {blob},
    decision {blob}
);
CREATE INDEX IF NOT EXISTS duplicate_pairs_state ON duplicate_pairs (state, score);
CREATE INDEX IF NOT EXISTS duplicate_pairs_delivery ON duplicate_pairs (delivery);
"""

SCHEMA_STEPS: dict[int, str] = {1: _TABLES, 2: _RECEIPTS, 3: _ACTIVITY, 4: _DUPLICATES}
"""The schema as numbered steps, each applied once in order: a kiosk's file records the last one it has in
`PRAGMA user_version`, the shared database has the migration file `000N.*.sql` of each step N (a test checks that
both make the same tables). A step only adds (tables, columns, indexes), so an older cache upgrades in place."""
SCHEMA_VERSION = max(SCHEMA_STEPS)


def table_statements(
    *, row_id: str, row_ref: str, real: str, blob: str, without_rowid: str = "", after: int = 0
) -> list[str]:
    """The statements of the schema steps after `after`, in one database's words for a row id, a reference to one,
    a float and a byte string; the stores' SQL runs unchanged on the tables either database makes of them."""
    statements = []
    for version in sorted(v for v in SCHEMA_STEPS if v > after):
        filled = SCHEMA_STEPS[version].format(
            row_id=row_id, row_ref=row_ref, real=real, blob=blob, without_rowid=without_rowid
        )
        statements += [statement for statement in filled.split(";") if statement.strip()]
    return statements


def sqlite_statements(after: int = 0) -> list[str]:
    """The schema steps after `after` in SQLite's words."""
    return table_statements(
        row_id="INTEGER PRIMARY KEY",
        row_ref="INTEGER",
        real="REAL",
        blob="BLOB",
        without_rowid=" WITHOUT ROWID",
        after=after,
    )


class Sealing(Protocol):
    """Encrypts and authenticates a value bound to its associated data."""

    def seal(self, plaintext: bytes, associated: bytes) -> bytes: ...

    def open(self, sealed: bytes, associated: bytes) -> bytes: ...


class Blinding(Protocol):
    """Turns a value into an opaque, deterministic lookup token."""

    def blind(self, domain: bytes, value: str) -> bytes: ...


Clock = Callable[[], float]


class Cursor(Protocol):
    """What the stores read from a statement (an `sqlite3.Cursor`, or a psycopg cursor)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the stores run statements on; SQL uses `?` placeholders and the syntax SQLite and PostgreSQL share."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...


class Backend(Protocol):
    """The database under the record store and the outbox: the local SQLite file, or the shared PostgreSQL one."""

    clock: Clock

    @property
    def label(self) -> str:
        """What error messages name: the file, or the shared database's host and name."""
        ...

    @property
    def file(self) -> Path | None: ...

    @property
    def skip_locked(self) -> str:
        """The clause that lets several kiosks claim outbox messages at once without taking the same one."""
        ...

    def transaction(self, *, durable: bool = False) -> AbstractContextManager[Connection]: ...

    def reading(self) -> AbstractContextManager[Connection]: ...


def _make_private(path: Path, mode: int) -> None:
    """chmod to `mode` unless it is already; a folder or file this user cannot change is an error in words."""
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except PermissionError:
        raise CacheError(
            f"{path} cannot be made private (mode {mode:04o}): it belongs to another user; give the kiosk a cache "
            "folder of its own",
            path,
        ) from None


def make_private_dir(directory: Path) -> None:
    """Create the cache folder 0700, or make an existing one 0700."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _make_private(directory, 0o700)


def make_private_files(path: Path) -> None:
    """Create the database file 0600 if it is missing, and make it and the files beside it 0600."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in FILE_SUFFIXES:
        with suppress(FileNotFoundError):
            _make_private(Path(f"{path}{suffix}"), 0o600)


class Database:
    """One cache file: its connection, lock and clock."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.lock = threading.RLock()
        self.closed = False
        make_private_files(path)
        with sqlite_errors(path):
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT)
            try:
                self._configure()
            except BaseException:
                self.conn.close()
                raise

    def _configure(self) -> None:
        conn = self.conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise CacheError(f"the offline cache {self.path} cannot use a write-ahead log (journal {mode})", self.path)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-16000")
        # After a checkpoint the log is cut back to this size, so a large prefetch does not leave a large file behind.
        conn.execute("PRAGMA journal_size_limit=4194304")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CacheError(
                f"the offline cache {self.path} was written by a newer version (schema {version})", self.path
            )
        if version < SCHEMA_VERSION:
            with self.transaction(durable=True):
                for statement in sqlite_statements(after=version):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def label(self) -> str:
        return str(self.path)

    @property
    def file(self) -> Path | None:
        return self.path

    @property
    def skip_locked(self) -> str:
        return ""  # one process writes at a time: SQLite's write lock is the claim lock

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (no upgrade deadlock), rolled back on any error; with `durable`, on the
        disk (not only handed to the operating system) when the block ends."""
        with self.lock, sqlite_errors(self.path):
            if durable:
                self.conn.execute("PRAGMA synchronous=FULL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT (disk full) leaves the transaction open: roll it back so the file stays usable.
                    if self.conn.in_transaction:
                        with suppress(sqlite3.Error):
                            self.conn.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self.lock, sqlite_errors(self.path):
            yield self.conn

    def meta(self, name: str) -> bytes | None:
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        """Close the connection (again is harmless). Writes nothing: a cache refused for its key stays byte for byte."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.conn.close()

    def file_bytes(self) -> int:
        """The size on disk of the database and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total
