"""The kiosk's one way to open its encrypted offline cache from the settings.

Directory, key, time-to-live and the lobby rule (nothing clinical kept) come from the settings, so `kiosk cache`
sees the very cache the app and `kiosk lookup` write. The key is never in the cache folder: a passphrase when one is
set; else the key file `cache_key_file` when one is set; else, with `cache_key_store = "auto"`, an entry of the OS
keyring where a backend is usable (a new cache keeps its key there), and the default key file (one per cache folder
in the user's data folder) otherwise, or for a cache made under it. A cache that cannot be opened is a
`CommandError` in words; the app and `kiosk lookup` then work online only.

With `cache_url` set, the kiosk's cache is a `HospitalCache`: the hospital's shared PostgreSQL cache under the
hospital key (`hospital_key_file`), with this cache as its fallback. A shared cache that cannot be reached at start
is not an error: the kiosk works on its own cache and joins the shared one when it answers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kiosk.output import CommandError
from kiosk.settings import APP_NAME, Mode, Settings

if TYPE_CHECKING:
    from offline_cache import KeyringEntry, OfflineCache
    from offline_cache.hospital import HospitalCache

    KioskCache = OfflineCache | HospitalCache

log = logging.getLogger(__name__)


def keyring_entry(settings: Settings) -> KeyringEntry:
    """The OS keyring entry of this cache folder's key: one per folder, so two caches never share a key by accident."""
    from offline_cache import KeyringEntry

    return KeyringEntry(APP_NAME, f"offline-cache:{settings.cache_dir.resolve()}")


def key_arguments(settings: Settings) -> dict[str, Any]:
    """How `OfflineCache.open` gets the key under these settings (never the key itself, except a passphrase)."""
    from offline_cache import keyring_problem

    if settings.cache_passphrase is not None:
        return {"passphrase": settings.cache_passphrase.get_secret_value()}
    if settings.cache_key_store == "file" or (settings.cache_key_store == "auto" and settings.cache_key_file):
        return {"key_file": settings.key_file}
    problem = keyring_problem()
    if settings.cache_key_store == "keyring":
        if problem is not None:
            raise CommandError(f"cache_key_store is 'keyring', but {problem}; set it to 'auto' or 'file'")
        return {"keyring": keyring_entry(settings)}
    return {"keyring": keyring_entry(settings) if problem is None else None, "key_file": settings.key_file}


def open_cache(settings: Settings) -> KioskCache:
    """This kiosk's cache, on the hospital's shared one when `cache_url` is set."""
    local = open_local_cache(settings)
    if settings.cache_url is None:
        return local
    try:
        return open_hospital_cache(settings, local)
    except BaseException:
        local.close()
        raise


def hospital_key(settings: Settings) -> bytes:
    """The hospital data key of the shared cache, from its key file (never from the database)."""
    from offline_cache import CacheKeyError
    from offline_cache.keys import read_key_file

    if settings.hospital_key_file is None:
        raise CommandError("cache_url is set but hospital_key_file is not: the shared cache needs the hospital key")
    try:
        return read_key_file(settings.hospital_key_file)
    except CacheKeyError as exc:
        raise CommandError(str(exc).replace("cache key file", "hospital key file")) from None


def shared_cache_place(dsn: str) -> str:
    """Where the shared cache is, for people: host, port and database, never the user or the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # an address psycopg cannot read: say so without repeating it
        return "an unreadable postgresql address"
    host, port, name = params.get("host") or "localhost", params.get("port"), params.get("dbname") or "postgres"
    return f"postgresql database {name} on {host}{f':{port}' if port else ''}"


def shared_cache_unencrypted(dsn: str) -> str | None:
    """Why the shared cache's connection could travel in clear over the LAN, or None: a host off this machine needs
    `sslmode=require` or stricter (the rows are sealed, but the database password and the traffic's shape are not)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return "the postgresql address cannot be read"
    hosts = str(params.get("host") or "").split(",")
    local = all(h in ("", "localhost", "127.0.0.1", "::1") or h.startswith("/") for h in hosts)
    if local or params.get("sslmode") in ("require", "verify-ca", "verify-full"):
        return None
    return "the connection to a database off this machine is not required to use TLS: add sslmode=verify-full"


def open_hospital_cache(settings: Settings, local: OfflineCache) -> HospitalCache:
    """The shared cache before this kiosk's own; connected now if it answers within a few seconds."""
    from offline_cache.hospital import HospitalCache, SharedLink
    from offline_cache.shared import SharedCache

    assert settings.cache_url is not None
    key = hospital_key(settings)
    dsn = settings.cache_url.get_secret_value()
    ttl_hours = settings.effective_ttl_hours
    link = SharedLink(
        lambda: SharedCache.connect(
            dsn,
            master_key=key,
            ttl_seconds=max(ttl_hours, 1 / 60) * 3600,
            clinical_allowed=settings.mode is not Mode.LOBBY and ttl_hours > 0,
        ),
        shared_cache_place(dsn),
    )
    if link.state == "refused":
        log.error("shared cache refused, working on this kiosk's cache: %s", link.problem)
    elif link.state == "unreachable":
        log.warning("shared cache unreachable at start, working on this kiosk's cache until it answers")
    return HospitalCache(local, link)


def open_local_cache(settings: Settings) -> OfflineCache:
    """The cache as these settings open it. A damaged file, or one written under another key, says how to discard
    it; the kiosk never discards a cache on its own, since the data is then gone for good."""
    from offline_cache import CacheCorruptError, CacheError, OfflineCache

    ttl_hours = settings.effective_ttl_hours
    try:
        return OfflineCache.open(
            settings.cache_dir,
            **key_arguments(settings),
            ttl_seconds=max(ttl_hours, 1 / 60) * 3600,
            clinical_allowed=settings.mode is not Mode.LOBBY and ttl_hours > 0,
        )
    except CacheError as exc:
        unreadable = isinstance(exc, CacheCorruptError) or "written under" in str(exc)
        hint = " (`kiosk cache purge --discard` deletes the cache file)" if unreadable else ""
        raise CommandError(f"{exc}{hint}") from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise CommandError(
            f"the offline cache in {settings.cache_dir} cannot be opened ({exc.strerror or type(exc).__name__}{where})"
        ) from None


def open_cache_or_none(settings: Settings) -> KioskCache | None:
    """The cache, or None when it cannot be opened: the kiosk then works online only, and the log says why."""
    try:
        return open_cache(settings)
    except CommandError as exc:
        log.warning("offline cache unavailable, working online only: %s", exc)
    except ImportError as exc:  # a broken install must not keep the kiosk from working online
        log.warning("offline cache unavailable, working online only: %s", type(exc).__name__)
    return None
