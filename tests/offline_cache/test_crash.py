"""A writer killed with SIGKILL at random moments, 200 times, leaves a file that opens with every acknowledged write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from offline_cache import OfflineCache
from tests.offline_cache.crash_writer import payload_for

ROOT = Path(__file__).resolve().parents[2]
KILLS = 200


def test_every_acknowledged_write_survives_200_kills(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-m", "tests.offline_cache.crash_writer", str(directory), str(KILLS), "20261129"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["endings"] == {"signal 9": KILLS}, done.stderr[-2000:]  # every writer was killed while writing
    records: list[str] = report["records"]
    messages: list[str] = report["messages"]
    assert len(records) >= 2 * KILLS and messages

    cache = OfflineCache.open(directory, key_file=tmp_path / "key", ttl_seconds=3600)
    try:
        assert cache._db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        missing = [key for key in records if (got := cache.records.get(key)) is None or got.payload != payload_for(key)]
        assert missing == [], f"{len(missing)} acknowledged records lost or damaged"
        for key in records[:: max(1, len(records) // 200)]:
            assert [r.key for r in cache.records.find(f"i:{key}")] == [key]
        queued = {m.idempotency_key for m in cache.outbox.claim(limit=len(messages) + 1000)}
        assert set(messages) <= queued
    finally:
        cache.close()
