"""The cache's errors. Their texts name files and causes, never a record's content or key."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CacheError(Exception):
    """Anything that keeps the offline cache from answering; the kiosk then works online only."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class CacheKeyError(CacheError):
    """The key cannot be used: missing, unsafe, malformed, or not the one the cache was written under.

    The cache file is left untouched: data written under another key is never overwritten or purged by accident.
    """


class CacheCorruptError(CacheError):
    """The cache file is damaged (not a database, a damaged page, or a record that fails authentication)."""


class CacheFullError(CacheError):
    """The disk (or the database's page limit) is full; the write was rolled back and the file stays usable."""


_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_VTAB", "SQLITE_CORRUPT_SEQUENCE", "SQLITE_CORRUPT_INDEX"}


def translate(exc: sqlite3.Error, path: Path) -> CacheError:
    """The cache error for an SQLite error; the message carries SQLite's own text (it never contains row values)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_FULL") or "database or disk is full" in text:
        return CacheFullError(f"the offline cache {path} is full (disk or size limit): {text}", path)
    if name in _CORRUPT or "malformed" in text or "not a database" in text:
        return CacheCorruptError(f"the offline cache {path} is damaged: {text}", path)
    return CacheError(f"the offline cache {path} failed: {name or type(exc).__name__}: {text}", path)


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite errors raised inside the block into cache errors naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc
