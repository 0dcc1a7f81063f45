"""A part of the kiosk built on first use, so `kiosk run` takes input before the heavy stacks are loaded.

`kiosk run` must be ready for a scan within a second of starting; importing the lookup service (httpx, JOSE, the
matching engine), the scanners' parsers and the trust list's keys, and opening the encrypted cache, cost a good part
of that. The app starts a named thread worker that warms each part right after the first screen is up, so by the
time a person has presented a card they are built; a scan that comes sooner simply waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """One part, built once by `build` on the first `get()` (or `warm()`), then handed out as it is.

    Thread-safe: when the warm-up thread and the app ask at the same time, one builds and the other waits for it. A
    build that raises keeps nothing, so the next `get()` tries again (and meets the fault in its own words).
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._part: tuple[T] | None = None
        """The built part, boxed so that a part which is itself None counts as built."""

    def get(self) -> T:
        """The part, built now if it is not yet."""
        part = self._part
        if part is None:
            with self._lock:
                part = self._part
                if part is None:
                    part = (self._build(),)
                    self._part = part
        return part[0]

    def warm(self) -> None:
        """Build the part now (from the warm-up thread), so the first person does not wait for it."""
        self.get()

    @property
    def built(self) -> T | None:
        """The part if it has been built, else None; never builds it (for polling and for closing at exit)."""
        part = self._part
        return part[0] if part is not None else None
