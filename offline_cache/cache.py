"""`OfflineCache`: opens the file, checks the key, and hands out the record store and the outbox."""

from __future__ import annotations

import contextlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path

from offline_cache.db import Clock, Database
from offline_cache.errors import CacheError, CacheFullError, CacheKeyError
from offline_cache.keys import (
    Blinder,
    CacheKeys,
    Sealer,
    create_key_file,
    derive_from_passphrase,
    new_salt,
    read_key_file,
)
from offline_cache.outbox import MessageOutbox, RetryPolicy
from offline_cache.stats import CacheStats, collect
from offline_cache.store import RecordStore

DB_NAME = "cache.sqlite3"
KEY_NAME = "key"
MiB = 1024 * 1024


@dataclass(frozen=True)
class _Key:
    """The master key, and what to name when it does not fit (the key file, or the passphrase)."""

    master: bytes
    source: str
    key_file: Path | None

    def describe(self) -> str:
        return f"key file {self.key_file}" if self.key_file is not None else "passphrase"


def _passphrase_salt(db: Database) -> bytes:
    """The cache's scrypt salt, made once: two kiosks opening a new cache at once agree on it."""
    with db.transaction(durable=True) as conn:
        conn.execute("INSERT INTO meta VALUES ('kdf_salt', ?) ON CONFLICT DO NOTHING", (new_salt(),))
    salt = db.meta("kdf_salt")
    assert salt is not None
    return salt


def _master_key(db: Database, directory: Path, key_file: Path | None, passphrase: str | None) -> _Key:
    """The master key, checked against how the cache was made (key file or passphrase)."""
    source = db.meta("key_source")
    if passphrase is not None:
        if source == b"file":
            raise CacheKeyError(f"the offline cache {db.path} was written under a key file, not a passphrase", db.path)
        return _Key(derive_from_passphrase(passphrase, _passphrase_salt(db)), "passphrase", None)
    path = key_file or directory / KEY_NAME
    if source == b"passphrase":
        raise CacheKeyError(f"the offline cache {db.path} was written under a passphrase; none was given", db.path)
    if db.meta("key_check") is not None and not path.exists():
        raise CacheKeyError(
            f"the key file {path} is missing, and the offline cache {db.path} holds data written under a key: "
            "restore the key file, or discard the cache",
            path,
        )
    return _Key(read_key_file(path) if path.exists() else create_key_file(path), "file", path)


def _check_key(db: Database, key: _Key, keys: CacheKeys) -> None:
    """Record the key check value in a new cache, or compare it in an existing one."""
    with db.transaction(durable=True) as conn:
        conn.execute("INSERT INTO meta VALUES ('key_source', ?) ON CONFLICT DO NOTHING", (key.source.encode(),))
        conn.execute("INSERT INTO meta VALUES ('key_check', ?) ON CONFLICT DO NOTHING", (keys.check_value(),))
    stored = db.meta("key_check")
    if stored is None or not hmac.compare_digest(stored, keys.check_value()):
        raise CacheKeyError(
            f"the offline cache {db.path} was written under another key than the {key.describe()}; "
            "it was left untouched",
            key.key_file or db.path,
        )


class OfflineCache:
    """The kiosk's encrypted offline cache: `records` (a `RecordCache`), `outbox` (an `Outbox`), figures and purge."""

    def __init__(self, db: Database, records: RecordStore, outbox: MessageOutbox) -> None:
        self._db = db
        self.records = records
        self.outbox = outbox

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        key_file: Path | None = None,
        passphrase: str | None = None,
        ttl_seconds: float,
        max_bytes: int = 512 * MiB,
        clinical_allowed: bool = True,
        clock: Clock = time.time,
        retry: RetryPolicy | None = None,
    ) -> OfflineCache:
        """Open (or create) the cache in `directory`.

        The key comes from `passphrase` (scrypt, salt kept in the cache) or else from `key_file` (default `key` in
        the directory, created 0600 when neither it nor the cache exists yet). Raises `CacheKeyError` for a wrong,
        missing or unsafe key and `CacheCorruptError` for a damaged file, each naming the file; the file is then
        left as it was. With `clinical_allowed=False` clinical records are never stored or returned, and any left
        from an earlier mode are deleted now.
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = Database(directory / DB_NAME, clock)
        try:
            key = _master_key(db, directory, key_file, passphrase)
            keys = CacheKeys.from_master(key.master)
            _check_key(db, key, keys)
            sealer = Sealer(keys.encryption, str(db.path), db.path)
            blinder = Blinder(keys.index)
            records = RecordStore(
                db,
                sealer,
                blinder,
                ttl_seconds=ttl_seconds,
                max_bytes=max_bytes,
                clinical_allowed=clinical_allowed,
            )
            outbox = MessageOutbox(db, sealer, blinder, retry)
            # What expired while the kiosk was off goes now; in lobby mode, so does any clinical record.
            records.purge()
            outbox.purge()
        except BaseException:
            db.close()
            raise
        return cls(db, records, outbox)

    @property
    def path(self) -> Path:
        return self._db.path

    def stats(self) -> CacheStats:
        """Counts, bytes, ages and outbox states; no patient data."""
        return collect(self._db, self.records, self.outbox, self._db.file_bytes())

    def purge(self, all: bool = False, *, outbox: bool = False) -> int:
        """Delete expired records and delivered outbox messages past their retention; with `all`, every record and
        every delivered message. Undelivered messages are kept unless `outbox` is also given. Returns the count."""
        count = self.records.purge(everything=all)
        count += self.outbox.purge(everything=all and outbox, delivered=all)
        if all:
            # Give the freed pages back and fold the log in, so nothing purged lingers in the files; on a full
            # disk this may not be possible, and the purge has been done all the same.
            with contextlib.suppress(CacheFullError), self._db.reading() as conn:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def close(self) -> None:
        """Write the pending use marks and close the file; closing twice is harmless."""
        if self._db.closed:
            return
        with contextlib.suppress(CacheError):
            self.records.flush()
        self._db.close()

    def __enter__(self) -> OfflineCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def discard(directory: Path) -> list[Path]:
    """Delete the cache files in `directory` (not the key file): the administrator's way out of a lost key or a
    damaged file. Returns the files removed."""
    removed = []
    for suffix in ("", "-wal", "-shm"):
        path = directory / f"{DB_NAME}{suffix}"
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
