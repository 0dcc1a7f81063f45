"""The connection to the hospital's shared cache, dropped on the first failure and remade in the background, and
the one way the other parts run an operation on it (`SharedRunner`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from offline_cache.errors import CacheCorruptError, CacheError, CacheKeyError
from offline_cache.shared import SharedCache

log = logging.getLogger(__name__)
T = TypeVar("T")


class SharedLink:
    """The connection to the shared cache: made at start, dropped on the first failure, remade in the background."""

    def __init__(
        self,
        connect: Callable[[], SharedCache],
        where: str,
        *,
        retry_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.where = where
        self._retry = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: SharedCache | None = None
        self._problem: str | None = None
        self._refused = False
        self._next_try = 0.0
        self._reconnecting = False
        self._closed = False
        self.losses = 0
        """How many times the connection was lost since start (each time the kiosk fell back to its own cache)."""
        self._try_connect()

    @property
    def state(self) -> str:
        if self._cache is not None:
            return "connected"
        return "refused" if self._refused else "unreachable"

    @property
    def problem(self) -> str | None:
        return self._problem

    def get(self) -> SharedCache | None:
        """The shared cache when it is usable now; never waits for a connection."""
        cache = self._cache
        if cache is None and not self._refused and not self._closed and self._clock() >= self._next_try:
            self._reconnect_in_background()
        return cache

    def lost(self, exc: CacheError, failed: SharedCache | None = None) -> None:
        """An operation on `failed` (the current connection when not given) failed: stop using it; a new one is
        tried in the background later. A failure of a connection already replaced changes nothing: a slow operation
        begun before an outage must not cut off the connection made after it."""
        with self._lock:
            if failed is not None and failed is not self._cache:
                return
            cache, self._cache = self._cache, None
            self._problem = str(exc)
            self._next_try = self._clock() + self._retry
        if cache is not None:
            self.losses += 1
            log.warning("shared cache unreachable, working on this kiosk's cache: %s", type(exc).__name__)
            _close_quietly(cache)

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the shared cache to be usable (tests and `kiosk doctor`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get() is not None:
                return True
            if self._refused:
                return False
            time.sleep(0.05)
        return self.get() is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            cache, self._cache = self._cache, None
        if cache is not None:
            _close_quietly(cache)

    def _try_connect(self) -> None:
        try:
            cache = self._connect()
        except CacheKeyError as exc:
            self._refused, self._problem = True, str(exc)
            log.error("shared cache refused: written under another hospital key")
            return
        except CacheError as exc:
            self._problem = str(exc)
            self._refused = "migrat" in str(exc) or "newer than this kiosk" in str(exc)
            self._next_try = self._clock() + self._retry
            return
        with self._lock:
            if self._closed:
                _close_quietly(cache)
                return
            self._cache, self._problem = cache, None
        log.info("shared cache connected")

    def _reconnect_in_background(self) -> None:
        with self._lock:
            if self._reconnecting:
                return
            self._reconnecting = True
            self._next_try = self._clock() + self._retry

        def run() -> None:
            try:
                self._try_connect()
            finally:
                self._reconnecting = False

        threading.Thread(target=run, name="shared-cache-reconnect", daemon=True).start()


def _close_quietly(cache: SharedCache) -> None:
    with contextlib.suppress(CacheError):
        cache.close()


class SharedRunner:
    """Runs an operation on the shared cache when it is there, dropping the connection when it fails."""

    def __init__(self, link: SharedLink) -> None:
        self.link = link

    def run(self, operation: Callable[[SharedCache], T]) -> T | None:
        cache = self.link.get()
        if cache is None:
            return None
        try:
            return operation(cache)
        except CacheKeyError:
            raise
        except CacheCorruptError:
            # A row that fails authentication was damaged or moved by whoever runs the database: it is a missing
            # record (never another patient's), and the connection itself is sound.
            log.error("a row of the shared cache fails authentication: treated as missing")
            return None
        except CacheError as exc:
            self.link.lost(exc, cache)
            return None
