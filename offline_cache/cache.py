"""`OfflineCache`: opens the file, checks the key, and hands out the record store and the outbox.

At rest: the cache folder is made 0700 and every file of the database 0600 on each open, whatever they were before
(see `offline_cache.db`); the key never lives in the folder (`offline_cache.key_store`). An install of an earlier
version kept its key file at `<cache folder>/key`: the first open moves it out to where the key now belongs (the OS
keyring entry or the key file given), checked against the cache's key check value before the old file is removed,
and says so in the log (paths only). Moving is the safer of the two sound choices: refusing would leave the kiosk
online only, with the audit events queued in its outbox stuck until someone moves the file by hand, while the move
itself never loses the key (the new copy is whole, durable and verified before the old one goes; a crash in between
leaves both, and the next open finishes). What moving cannot undo is an earlier copy of the folder that took the key
with it: the log line says the key was beside the database so that an administrator can judge.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from offline_cache.activity import ActivityStore
from offline_cache.db import Clock, Database, make_private_dir
from offline_cache.errors import CacheError, CacheFullError, CacheKeyError
from offline_cache.key_store import KeyFile, KeyringEntry, KeyStore
from offline_cache.keys import Blinder, CacheKeys, Kdf, Sealer, fsync_dir, read_key_file
from offline_cache.outbox import MessageOutbox, RetryPolicy
from offline_cache.passphrase import check_strength
from offline_cache.review import DuplicateReview
from offline_cache.stats import CacheStats, collect
from offline_cache.store import RecordStore

DB_NAME = "cache.sqlite3"
LEGACY_KEY_NAME = "key"
"""Where earlier versions kept the key file: inside the cache folder, which is why it is moved out."""
MiB = 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Key:
    """The master key, how the cache was made (key file, keyring or passphrase), and what to name when it does not
    fit."""

    master: bytes
    source: str
    where: str
    path: Path | None = None


def key_inside(key_file: Path, directory: Path) -> bool:
    """Whether a key file would lie inside the cache folder (where a copy of the folder takes it along)."""
    return key_file.resolve().is_relative_to(directory.resolve())


def _passphrase_key(db: Database, passphrase: str) -> _Key:
    """The master key for a passphrase, with the KDF the cache was made with (made now for a new cache; two kiosks
    opening a new cache at once agree on the first one written)."""
    source = db.meta("key_source")
    if source not in (None, b"passphrase"):
        where = "a key in the OS keyring" if source == b"keyring" else "a key file"
        raise CacheKeyError(f"the offline cache {db.path} was written under {where}, not a passphrase", db.path)
    check_strength(passphrase)
    with db.transaction(durable=True) as conn:
        if conn.execute("SELECT 1 FROM meta WHERE name = 'kdf_salt'").fetchone() is None:
            conn.execute("INSERT INTO meta VALUES ('kdf', ?) ON CONFLICT DO NOTHING", (Kdf.new().encode(),))
    stored = db.meta("kdf")
    if stored is not None:
        kdf = Kdf.decode(stored, db.path)
    else:
        legacy_salt = db.meta("kdf_salt")
        assert legacy_salt is not None
        kdf = Kdf.legacy_scrypt(legacy_salt)
    return _Key(kdf.derive(passphrase), "passphrase", "passphrase")


def _stores(directory: Path, key_file: Path | None, keyring: KeyringEntry | None) -> list[KeyStore]:
    """Where the key may be kept, in order of preference; a key file inside the cache folder is refused."""
    if key_file is not None and key_inside(key_file, directory):
        raise CacheKeyError(
            f"the cache key file {key_file} is inside the cache folder {directory}: whoever copies the folder would "
            "get the key with the data; set cache_key_file (KIOSK_CACHE_KEY_FILE) to a path outside it, or use the "
            "OS keyring",
            key_file,
        )
    stores: list[KeyStore] = []
    if keyring is not None:
        stores.append(keyring)
    if key_file is not None:
        stores.append(KeyFile(key_file))
    if not stores:
        raise CacheKeyError(
            f"no key given for the offline cache in {directory}: give a key file outside the cache folder, an OS "
            "keyring entry or a passphrase"
        )
    return stores


def _move_legacy_key(db: Database, legacy: Path, target: KeyStore) -> None:
    """Move the key of an earlier install out of the cache folder to `target`, after checking it opens the cache."""
    key = read_key_file(legacy)
    stored_check = db.meta("key_check")
    if stored_check is not None and not hmac.compare_digest(stored_check, CacheKeys.from_master(key).check_value()):
        raise CacheKeyError(
            f"the key file {legacy} inside the cache folder does not open the offline cache {db.path}; "
            "it is not needed here and must not stay beside the database: delete it",
            legacy,
        )
    existing = target.load()
    if existing is None:
        target.adopt(key)
    elif not hmac.compare_digest(existing, key):
        raise CacheKeyError(
            f"the key file {legacy} is inside the cache folder and the {target.describe()} holds another key; "
            f"move {legacy} out of the folder by hand and set cache_key_file to its new path",
            legacy,
        )
    with db.transaction(durable=True) as conn:
        conn.execute(
            "INSERT INTO meta VALUES ('key_source', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (target.kind.encode(),),
        )
    legacy.unlink()
    fsync_dir(legacy.parent)
    log.warning(
        "moved the offline cache key out of the cache folder, from %s to the %s; it had been kept beside the "
        "database, so any earlier copy of that folder holds the key too",
        legacy,
        target.describe(),
    )


def _stored_key(db: Database, directory: Path, stores: Sequence[KeyStore]) -> _Key:
    """The master key kept in one of `stores`: where the cache says it was made, or the first usable one."""
    if db.meta("key_source") == b"passphrase":
        raise CacheKeyError(f"the offline cache {db.path} was written under a passphrase; none was given", db.path)
    legacy = directory / LEGACY_KEY_NAME
    if legacy.exists():
        _move_legacy_key(db, legacy, stores[0])
    made = db.meta("key_check") is not None
    if made:
        kind = (db.meta("key_source") or b"file").decode()
        store = next((s for s in stores if s.kind == kind), None)
        if store is None:
            where = "the OS keyring" if kind == "keyring" else "a key file"
            given = " and ".join(s.describe() for s in stores)
            raise CacheKeyError(
                f"the offline cache {db.path} keeps its key in {where}, and only the {given} was given", db.path
            )
        key = store.load()
        if key is None:
            raise CacheKeyError(
                f"the {store.describe()} is missing, and the offline cache {db.path} holds data written under a key: "
                "restore it, or discard the cache",
                getattr(store, "path", db.path),
            )
        return _Key(key, store.kind, store.describe(), getattr(store, "path", None))
    for position, store in enumerate(stores):
        try:
            key = store.load() or store.create()
        except CacheKeyError as exc:
            if position == len(stores) - 1:
                raise
            log.warning("the cache key cannot be kept in the %s (%s); trying the next place", store.describe(), exc)
            continue
        return _Key(key, store.kind, store.describe(), getattr(store, "path", None))
    raise AssertionError("unreachable: _stores never returns an empty list")


def _check_key(db: Database, key: _Key, keys: CacheKeys) -> None:
    """Record the key check value in a new cache, or compare it in an existing one."""
    with db.transaction(durable=True) as conn:
        conn.execute("INSERT INTO meta VALUES ('key_source', ?) ON CONFLICT DO NOTHING", (key.source.encode(),))
        conn.execute("INSERT INTO meta VALUES ('key_check', ?) ON CONFLICT DO NOTHING", (keys.check_value(),))
    stored = db.meta("key_check")
    if stored is None or not hmac.compare_digest(stored, keys.check_value()):
        raise CacheKeyError(
            f"the offline cache {db.path} was written under another key than the {key.where}; it was left untouched",
            key.path or db.path,
        )


class OfflineCache:
    """The kiosk's encrypted offline cache: `records` (a `RecordCache`), `outbox` (an `Outbox`), `activity` (the
    admin console's log, an `ActivityLog`), figures and purge."""

    def __init__(
        self,
        db: Database,
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
        """The review queue of possible duplicate patients (`offline_cache.review`)."""

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        key_file: Path | None = None,
        keyring: KeyringEntry | None = None,
        passphrase: str | None = None,
        ttl_seconds: float,
        max_bytes: int = 512 * MiB,
        clinical_allowed: bool = True,
        clock: Clock = time.time,
        retry: RetryPolicy | None = None,
    ) -> OfflineCache:
        """Open (or create) the cache in `directory`, made 0700 with its files 0600.

        The key comes from `passphrase` (Argon2id, at least zxcvbn score 4; the KDF and its salt kept in the cache),
        or else from `keyring` (an OS keyring entry) and/or `key_file` (created 0600 when neither it nor the cache
        exists yet; refused inside `directory`). Given both, a new cache keeps its key in the keyring when it can, and
        an existing one reads it from where it was made. A key file left inside the folder by an earlier version is
        moved out on this open. Raises `CacheKeyError` for a wrong, missing, weak or unsafe key and
        `CacheCorruptError` for a damaged file, each naming the file; the file is then left as it was. With
        `clinical_allowed=False` clinical records are never stored or returned, and any left from an earlier mode
        are deleted now.
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        stores = [] if passphrase is not None else _stores(directory, key_file, keyring)
        make_private_dir(directory)
        db = Database(directory / DB_NAME, clock)
        try:
            key = _passphrase_key(db, passphrase) if passphrase is not None else _stored_key(db, directory, stores)
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
            activity = ActivityStore(db, sealer, blinder)
            review = DuplicateReview(db, sealer, blinder, ttl_seconds=ttl_seconds)
            # What expired while the kiosk was off goes now; in lobby mode, so does any clinical record.
            records.purge()
            outbox.purge()
            activity.purge()
            review.purge()
        except BaseException:
            db.close()
            raise
        return cls(db, records, outbox, activity, review)

    @property
    def path(self) -> Path:
        return self._db.path

    def stats(self) -> CacheStats:
        """Counts, bytes, ages and outbox states; no patient data."""
        return collect(self._db, self.records, self.outbox, self._db.file_bytes())

    def purge(self, all: bool = False, *, outbox: bool = False) -> int:
        """Delete expired records, delivered outbox messages and activity rows past their retention; with `all`,
        every record and every delivered message. Undelivered messages are kept unless `outbox` is also given, and the
        activity log (no patient data) keeps its retention. Possible duplicates still waiting go with the records'
        time-to-live, and with `all` the review queue's decisions too. Returns the count."""
        count = self.records.purge(everything=all)
        count += self.outbox.purge(everything=all and outbox, delivered=all)
        count += self.activity.purge()
        count += self.review.purge(everything=all)
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
