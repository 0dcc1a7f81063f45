"""A full disk: the write fails with `CacheFullError`, is rolled back, and the file stays readable and writable.

The disk is made full for real: a small tmpfs when this machine lets the test mount one (root in a container with
the capability), half taken by another file, otherwise SQLite's own page limit on the connection, which fails writes
the same way (`database or disk is full`) at the same places. Freeing the space (deleting the other file, or raising
the limit) lets writes go on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_cache import CacheFullError, OfflineCache

LIMIT_BYTES = 2 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A directory on a 2 MiB filesystem, and whether it is a real mount (False: use the page limit)."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={LIMIT_BYTES},mode=0700", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
    try:
        yield mount, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_a_full_disk_is_a_clear_error_and_the_file_stays_usable(small_disk: tuple[Path, bool], tmp_path: Path) -> None:
    directory, mounted = small_disk
    ballast = directory / "other-files"
    if mounted:
        ballast.write_bytes(os.urandom(LIMIT_BYTES // 2))
    cache = OfflineCache.open(directory / "cache", key_file=tmp_path / "key", ttl_seconds=3600)
    if not mounted:
        cache._db.conn.execute(f"PRAGMA max_page_count={LIMIT_BYTES // 2 // 4096}")
    stored: list[str] = []
    with pytest.raises(CacheFullError) as info:
        for i in range(10_000):
            cache.records.put(f"r{i}", os.urandom(3000), index_keys=[f"k{i}"])
            stored.append(f"r{i}")
    assert "full" in str(info.value) and str(cache.path) in str(info.value)
    assert len(stored) > 10
    with pytest.raises(CacheFullError):
        cache.outbox.append("audit", "e0", os.urandom(20_000))
    for key in stored:  # every write acknowledged before the failure is there
        assert cache.records.get(key) is not None
    assert cache.records.get(f"r{len(stored)}") is None  # the failed write was rolled back whole
    assert cache.stats().records == len(stored)
    assert cache._db.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    # Once there is room again, writes go on, in the same session and after reopening.
    if mounted:
        ballast.unlink()
    else:
        cache._db.conn.execute(f"PRAGMA max_page_count={LIMIT_BYTES // 4096}")
    cache.records.put("after", b"fits again")
    cache.outbox.append("audit", "e1", b"{}")
    cache.close()
    again = OfflineCache.open(directory / "cache", key_file=tmp_path / "key", ttl_seconds=3600)
    try:
        got = again.records.get("after")
        assert got is not None and got.payload == b"fits again"
        assert all(again.records.get(key) is not None for key in stored)
        assert again.stats().outbox["queued"] == 1
        assert again._db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        again.close()
