"""The hospital-wide shared cache on PostgreSQL: the kiosk's record store and outbox code over the hospital LAN.

The same `RecordStore` and `MessageOutbox` run on PostgreSQL instead of the SQLite file, so rows hold exactly what
they hold locally: AES-256-GCM ciphertexts bound to their row, HMAC blind indexes, nothing in clear. The key is the
hospital's data key (as a KMS unwraps it for the kiosk), checked against the key check value stored in the database.
Outbox claims take rows with `FOR UPDATE SKIP LOCKED`, so kiosks claiming at once never take the same message and
never wait for each other; the lease still brings back the messages of a kiosk that died. Records commit with
`synchronous_commit=off` (a cache may forget its last writes in a server crash), outbox messages with the server's
durable default. Needs the `psycopg` package; nothing imports this module unless a shared cache is configured.
See the design note in `offline_cache/__init__.py` for what changes in the threat model.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql

from offline_cache.db import Clock, Cursor, table_statements
from offline_cache.errors import CacheCorruptError, CacheError, CacheFullError, CacheKeyError
from offline_cache.keys import Blinder, CacheKeys, Sealer
from offline_cache.outbox import MessageOutbox, RetryPolicy
from offline_cache.stats import CacheStats, collect
from offline_cache.store import RecordStore

GiB = 1024**3
_SETUP_LOCK = 7_311_020_001
"""Advisory lock id held while a kiosk creates the tables, so kiosks starting together do not race."""

_SCHEMA = table_statements(
    row_id="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", row_ref="bigint", real="double precision", blob="bytea"
)


class _Statements:
    """The stores' `?`-placeholder SQL run on a psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, query: str, parameters: Any = (), /) -> Cursor:
        return self._conn.execute(query.replace("?", "%s"), parameters)

    def executemany(self, query: str, parameters: Iterable[Any], /) -> Cursor:
        cursor = self._conn.cursor()
        cursor.executemany(query.replace("?", "%s"), list(parameters))
        return cursor


class PgDatabase:
    """One connection to the shared database, in its own schema, guarded by a lock (the `Backend` of the stores)."""

    def __init__(self, dsn: str, clock: Clock, schema: str = "kiosk_cache") -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._label = "the shared database"
        with self._errors():
            self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            info = self._conn.info
            self._label = f"postgresql database {info.dbname} on {info.host}"
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
                self._conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
                for statement in _SCHEMA:
                    self._conn.execute(statement.encode())

    @property
    def label(self) -> str:
        return self._label

    @property
    def file(self) -> Path | None:
        return None

    @property
    def skip_locked(self) -> str:
        return " FOR UPDATE SKIP LOCKED"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn driver errors into cache errors; the text names the database and the SQLSTATE, never a value."""
        try:
            yield
        except errors.DiskFull as exc:
            raise CacheFullError(f"the shared cache ({self._label}) is full: {exc.sqlstate}") from exc
        except (errors.DataCorrupted, errors.IndexCorrupted) as exc:
            raise CacheCorruptError(f"the shared cache ({self._label}) is damaged: {exc.sqlstate}") from exc
        except psycopg.OperationalError as exc:
            raise CacheError(f"the shared cache ({self._label}) is unreachable: {type(exc).__name__}") from exc
        except psycopg.Error as exc:
            raise CacheError(f"the shared cache ({self._label}) failed: {exc.sqlstate} {type(exc).__name__}") from exc

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[_Statements]:
        with self.lock, self._errors(), self._conn.transaction():
            if not durable:
                self._conn.execute("SET LOCAL synchronous_commit TO off")
            yield _Statements(self._conn)

    @contextmanager
    def reading(self) -> Iterator[_Statements]:
        with self.lock, self._errors(), self._conn.transaction():
            yield _Statements(self._conn)

    def total_bytes(self) -> int:
        """The tables' size on the server, indexes included."""
        with self.reading() as conn:
            row = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            ).fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @property
    def closed(self) -> bool:
        return self._conn.closed


class SharedCache:
    """The hospital-wide cache: `records` (a `RecordCache`), `outbox` (an `Outbox`), figures and purge."""

    def __init__(self, db: PgDatabase, records: RecordStore, outbox: MessageOutbox) -> None:
        self._db = db
        self.records = records
        self.outbox = outbox

    @classmethod
    def connect(
        cls,
        dsn: str,
        *,
        master_key: bytes,
        ttl_seconds: float,
        max_bytes: int = 8 * GiB,
        clinical_allowed: bool = True,
        clock: Clock = time.time,
        retry: RetryPolicy | None = None,
        schema: str = "kiosk_cache",
    ) -> SharedCache:
        """Connect to the shared cache; `master_key` is the hospital data key (32 bytes, unwrapped by the KMS).

        Raises `CacheKeyError` when the database was written under another key (nothing is changed then), and
        `CacheError` when the database cannot be reached: the kiosk then uses its local cache.
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        keys = CacheKeys.from_master(master_key)
        db = PgDatabase(dsn, clock, schema)
        try:
            with db.transaction(durable=True) as conn:
                conn.execute("INSERT INTO meta VALUES ('key_check', ?) ON CONFLICT DO NOTHING", (keys.check_value(),))
                stored = conn.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()[0]
            if not hmac.compare_digest(bytes(stored), keys.check_value()):
                raise CacheKeyError(f"the shared cache ({db.label}) was written under another hospital key")
            sealer = Sealer(keys.encryption, db.label)
            blinder = Blinder(keys.index)
            records = RecordStore(
                db, sealer, blinder, ttl_seconds=ttl_seconds, max_bytes=max_bytes, clinical_allowed=clinical_allowed
            )
            outbox = MessageOutbox(db, sealer, blinder, retry)
            records.purge()
        except BaseException:
            db.close()
            raise
        return cls(db, records, outbox)

    def stats(self) -> CacheStats:
        return collect(self._db, self.records, self.outbox, self._db.total_bytes())

    def purge(self, all: bool = False, *, outbox: bool = False) -> int:
        """As `OfflineCache.purge`: expired records and old delivered messages, or everything with `all`."""
        count = self.records.purge(everything=all)
        return count + self.outbox.purge(everything=all and outbox, delivered=all)

    def close(self) -> None:
        if not self._db.closed:
            self.records.flush()
            self._db.close()

    def __enter__(self) -> SharedCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
