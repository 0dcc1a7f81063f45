"""Fixtures of the offline cache tests: a clock the test moves, and caches opened in the test's folder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offline_cache import OfflineCache

HOUR = 3600.0


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


Opener = Callable[..., OfflineCache]


@pytest.fixture
def open_cache(tmp_path: Path, clock: Clock) -> Iterator[Opener]:
    """Opens the real cache in `tmp_path / "cache"` with the test's clock and, unless told otherwise, the key file
    `tmp_path / "key"` (outside the cache folder); every cache opened is closed at the end."""
    opened: list[OfflineCache] = []

    def make(**kw: Any) -> OfflineCache:
        kw.setdefault("ttl_seconds", 72 * HOUR)
        kw.setdefault("clock", clock)
        if "passphrase" not in kw and "keyring" not in kw:
            kw.setdefault("key_file", tmp_path / "key")
        cache = OfflineCache.open(kw.pop("directory", tmp_path / "cache"), **kw)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        with contextlib.suppress(Exception):
            cache.close()
