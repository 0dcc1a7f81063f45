"""The kiosk's one way to open its encrypted offline cache from the settings.

Directory, key (a key file, or a passphrase when one is set), time-to-live and the lobby rule (nothing clinical
kept) come from the settings, so `kiosk cache` sees the very cache the app and `kiosk lookup` write. A cache that
cannot be opened is a `CommandError` in words; the app and `kiosk lookup` then work online only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kiosk.output import CommandError
from kiosk.settings import Mode, Settings

if TYPE_CHECKING:
    from offline_cache import OfflineCache

log = logging.getLogger(__name__)


def open_cache(settings: Settings) -> OfflineCache:
    """The cache as these settings open it. A damaged file, or one written under another key, says how to discard
    it; the kiosk never discards a cache on its own, since the data is then gone for good."""
    from offline_cache import CacheCorruptError, CacheError, OfflineCache

    ttl_hours = settings.effective_ttl_hours
    passphrase = settings.cache_passphrase.get_secret_value() if settings.cache_passphrase else None
    try:
        return OfflineCache.open(
            settings.cache_dir,
            key_file=None if passphrase else settings.key_file,
            passphrase=passphrase,
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


def open_cache_or_none(settings: Settings) -> OfflineCache | None:
    """The cache, or None when it cannot be opened: the kiosk then works online only, and the log says why."""
    try:
        return open_cache(settings)
    except CommandError as exc:
        log.warning("offline cache unavailable, working online only: %s", exc)
    except ImportError as exc:  # a broken install must not keep the kiosk from working online
        log.warning("offline cache unavailable, working online only: %s", type(exc).__name__)
    return None
