"""`kiosk cache stats|purge --json`: figures without patient data, purge, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from offline_cache import OfflineCache

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Trần Văn Bình 079201012345"


def _kiosk(tmp_path: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "cache", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
            "KIOSK_CACHE_KEY_FILE": str(tmp_path / "key"),
            "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
            **env,
        },
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(lines[0])


def _fill(tmp_path: Path) -> None:
    with OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600) as cache:
        cache.records.put("patient/p1", SECRET.encode(), index_keys=[SECRET])
        cache.records.put("appointment/a1", b"slot", clinical=False)
        cache.outbox.append("audit", SECRET, SECRET.encode())
        cache.outbox.append("check-in", "check-in:a1", b"{}")
        (entry, _) = cache.outbox.claim()
        cache.outbox.acknowledge(entry.id)


def test_stats_show_figures_and_no_patient_data(tmp_path: Path) -> None:
    code, empty = _kiosk(tmp_path, "stats")
    assert code == 0 and empty["exists"] is False
    assert not (tmp_path / "cache").exists()  # looking does not create a cache
    _fill(tmp_path)
    code, stats = _kiosk(tmp_path, "stats")
    assert code == 0
    assert stats["records"] == 2 and stats["clinical_records"] == 1
    assert stats["outbox"] == {"queued": 0, "sent": 1, "acknowledged": 1, "failed": 0}
    assert stats["ttl_seconds"] == 72 * 3600 and stats["file_bytes"] > 0 and stats["oldest_age_seconds"] >= 0
    assert "Bình" not in json.dumps(stats, ensure_ascii=False) and "079201012345" not in json.dumps(stats)


def test_lobby_mode_keeps_nothing_clinical(tmp_path: Path) -> None:
    _fill(tmp_path)
    code, stats = _kiosk(tmp_path, "stats", KIOSK_MODE="lobby")
    assert code == 0 and stats["records"] == 1 and stats["clinical_records"] == 0 and not stats["clinical_allowed"]


def test_purge_all_and_discard(tmp_path: Path) -> None:
    _fill(tmp_path)
    code, purged = _kiosk(tmp_path, "purge")
    assert code == 0 and purged["purged"] == 0 and purged["records"] == 2
    code, purged = _kiosk(tmp_path, "purge", "--all")
    assert code == 0 and purged == {"purged": 3, "all": True, "records": 0, "outbox_kept": 1}
    (tmp_path / "key").write_text(os.urandom(32).hex())
    code, error = _kiosk(tmp_path, "stats")
    assert code == 1 and "another key" in error["error"] and "--discard" in error["error"]
    code, discarded = _kiosk(tmp_path, "purge", "--discard")
    assert code == 0 and len(discarded["discarded"]) >= 1
    assert _kiosk(tmp_path, "stats")[1]["exists"] is False


def test_a_key_file_that_cannot_be_written_is_an_error_in_words(tmp_path: Path) -> None:
    # `kiosk cache` used to let the disk's own error through as "unexpected FileExistsError"; it now opens the cache
    # the way the app does, and says which cache could not be opened and where.
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "cache.sqlite3").touch()
    not_a_folder = tmp_path / "volume"
    not_a_folder.write_text("", encoding="utf-8")
    code, error = _kiosk(tmp_path, "stats", KIOSK_CACHE_KEY_FILE=str(not_a_folder / "key"))
    assert code == 1 and "unexpected" not in error["error"]
    assert "cannot be opened" in error["error"] and str(not_a_folder) in error["error"]
