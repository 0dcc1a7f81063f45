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
from psycopg_pool import ConnectionPool, PoolTimeout

from offline_cache.activity import ActivityStore
from offline_cache.db import Clock, Cursor
from offline_cache.errors import CacheCorruptError, CacheError, CacheFullError, CacheKeyError
from offline_cache.keys import Blinder, CacheKeys, Sealer
from offline_cache.outbox import MessageOutbox, RetryPolicy
from offline_cache.review import DuplicateReview
from offline_cache.schema import DEFAULT_SCHEMA, check_schema_name, schema_problem
from offline_cache.stats import CacheStats, collect
from offline_cache.store import RecordStore

GiB = 1024**3
WAIT_SECONDS = 0.25
"""How long an operation waits for a pooled connection: on a LAN a sound database gives one in milliseconds, and a
lookup must not wait on a database that restarted or vanished (the kiosk's own cache answers instead)."""
_BOUNDED = {
    "options": "-c statement_timeout=3000 -c lock_timeout=2000",
    "tcp_user_timeout": 3000,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
}
"""No statement waits more than 3 s on the server, and a database cut off by the network (no answer, no reset) is
noticed by the kernel within 3 s of unacknowledged data, instead of TCP's minutes."""


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
    """The shared database through a small connection pool, in its own schema, guarded by a lock (the `Backend` of
    the stores). The pool checks a connection before handing it out, so a database that restarted is reconnected to
    on the next call instead of failing every call after it."""

    def __init__(self, dsn: str, clock: Clock, schema: str = DEFAULT_SCHEMA, *, connect_timeout: float = 3.0) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._label = "the shared database"
        check_schema_name(schema)
        search_path = sql.SQL("SET search_path TO {}").format(sql.Identifier(schema))

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(search_path)

        with self._errors():
            self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                dsn,
                min_size=1,
                max_size=2,
                kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout)), **_BOUNDED},
                configure=configure,
                check=ConnectionPool.check_connection,
                timeout=WAIT_SECONDS,
                reconnect_timeout=0,
                open=False,
                name="shared-cache",
            )
            try:
                self._pool.open(wait=True, timeout=connect_timeout)
            except PoolTimeout:
                self._pool.close()
                raise psycopg.OperationalError("no connection within the timeout") from None
            with self._pool.connection() as conn:
                info = conn.info
                self._label = f"postgresql database {info.dbname} on {info.host}"
                problem = schema_problem(conn)
        if problem is not None:
            self._pool.close()
            raise CacheError(problem)

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
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise CacheError(f"the shared cache ({self._label}) is unreachable: {type(exc).__name__}") from exc
        except psycopg.Error as exc:
            raise CacheError(f"the shared cache ({self._label}) failed: {exc.sqlstate} {type(exc).__name__}") from exc

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[_Statements]:
        with self.lock, self._errors(), self._pool.connection() as conn, conn.transaction():
            if not durable:
                conn.execute("SET LOCAL synchronous_commit TO off")
            yield _Statements(conn)

    @contextmanager
    def reading(self) -> Iterator[_Statements]:
        with self.lock, self._errors(), self._pool.connection() as conn, conn.transaction():
            yield _Statements(conn)

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
            self._pool.close()

    @property
    def closed(self) -> bool:
        return self._pool.closed


class SharedCache:
    """The hospital-wide cache: `records` (a `RecordCache`), `outbox` (an `Outbox`), `activity` (every kiosk's
    activity log), figures and purge."""

    def __init__(
        self,
        db: PgDatabase,
        records: RecordStore,
        outbox: MessageOutbox,
        activity: ActivityStore,
        review: DuplicateReview,
    ) -> None:
        self._db = db
        self.records = records
        self.outbox = outbox
        self.activity = activity
        self.review = review
        """The hospital's review queue of possible duplicate patients (`offline_cache.review`)."""

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
        schema: str = DEFAULT_SCHEMA,
        connect_timeout: float = 3.0,
    ) -> SharedCache:
        """Connect to the shared cache; `master_key` is the hospital data key (32 bytes, unwrapped by the KMS).

        Raises `CacheKeyError` when the database was written under another key (nothing is changed then), and
        `CacheError` when the database cannot be reached: the kiosk then uses its local cache.
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        keys = CacheKeys.from_master(master_key)
        db = PgDatabase(dsn, clock, schema, connect_timeout=connect_timeout)
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
            activity = ActivityStore(db, sealer, blinder)
            review = DuplicateReview(db, sealer, blinder, ttl_seconds=ttl_seconds)
            records.purge()
        except BaseException:
            db.close()
            raise
        return cls(db, records, outbox, activity, review)

    def stats(self) -> CacheStats:
        return collect(self._db, self.records, self.outbox, self._db.total_bytes())

    def purge(self, all: bool = False, *, outbox: bool = False) -> int:
        """As `OfflineCache.purge`: expired records, old delivered messages and activity rows past their retention,
        or every record and delivered message with `all`; waiting duplicates past the time-to-live, or with `all`
        the whole review queue."""
        count = self.records.purge(everything=all) + self.activity.purge() + self.review.purge(everything=all)
        return count + self.outbox.purge(everything=all and outbox, delivered=all)

    def close(self) -> None:
        if not self._db.closed:
            self.records.flush()
            self._db.close()

    def __enter__(self) -> SharedCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
