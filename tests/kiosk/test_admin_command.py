"""`kiosk admin activity|counts` on a real cache file: filters, CSV a spreadsheet cannot run, JSON counts with every
hour of the period, zero counts without a cache (and no cache made), and errors in words without the value."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from kiosk.cli import main
from offline_cache import DB_NAME, OfflineCache

START = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)
"""A whole hour within the log's retention (opening the cache purges what is older)."""


@pytest.fixture
def kiosk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIOSK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KIOSK_CACHE_KEY_FILE", str(tmp_path / "cache.key"))
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.delenv("KIOSK_CACHE_URL", raising=False)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def _fill(folder: Path) -> None:
    with OfflineCache.open(folder / "cache", key_file=folder / "cache.key", ttl_seconds=3600) as cache:
        log = cache.activity
        log.record("e1", START, kiosk="er-1", staff="nurse-lan", mode="er", action="lookup", outcome="found",
                   identifier_type="cccd", invalid=1)  # fmt: skip
        log.record("e2", START + dt.timedelta(minutes=70), kiosk="-er-1", staff="doctor-minh", mode="er",
                   action="break-glass", outcome="found", identifier_type="record")  # fmt: skip
        log.record("e3", START + dt.timedelta(minutes=80), kiosk="rc-2", staff=None, mode="reception", action="lookup",
                   outcome="not-found", identifier_type="bhyt", offline=True)  # fmt: skip


def test_activity_is_listed_filtered_and_written_as_safe_csv(
    kiosk_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(kiosk_env)
    code, out = _run(capsys, "admin", "activity", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["event_id"] for r in rows] == ["e3", "e2", "e1"]
    assert rows[1]["kiosk"] == "'-er-1", "a cell a spreadsheet would run is written as text"
    assert (rows[0]["offline"], rows[0]["identifier_type"], rows[2]["invalid"]) == ("yes", "bhyt", "1")
    code, out = _run(capsys, "admin", "activity", "--kiosk", "er-1", "--outcome", "found", "--json")
    assert code == 0 and [a["event_id"] for a in json.loads(out)["activity"]] == ["e1"]
    since, until = (START + dt.timedelta(hours=1)).isoformat(), (START + dt.timedelta(minutes=80)).isoformat()
    code, out = _run(capsys, "admin", "activity", "--since", since, "--until", until, "--json")
    assert [a["event_id"] for a in json.loads(out)["activity"]] == ["e2"]
    code, out = _run(capsys, "admin", "activity", "--identifier-type", "bhyt")
    assert code == 0 and out.splitlines()[-1] == "1 actions" and "rc-2" in out


def test_counts_list_every_hour_of_the_period(kiosk_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(kiosk_env)
    since, until = START.isoformat(), (START + dt.timedelta(hours=3)).isoformat()
    code, out = _run(capsys, "admin", "counts", "--since", since, "--until", until, "--json")
    counted = json.loads(out)
    assert code == 0 and counted["by"] == "hour"
    assert [b["events"] for b in counted["buckets"]] == [1, 2, 0]
    assert counted["totals"]["events"] == 3 and counted["totals"]["not_found"] == 1
    assert counted["totals"]["offline"] == 1 and counted["totals"]["invalid"] == 1
    assert counted["break_glass_by_staff"] == [{"staff": "doctor-minh", "break_glass": 1}]
    code, out = _run(
        capsys, "admin", "counts", "--by", "day", "--since", since, "--until", until, "--staff", "doctor-minh"
    )
    assert code == 0 and out.splitlines()[-2].split() == ["total", "1", "1", "0", "0", "1", "0", "0", "0"]


def test_without_a_cache_nothing_was_recorded_and_no_cache_is_made(
    kiosk_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, "admin", "counts", "--json")
    counted = json.loads(out)
    assert code == 0 and counted["totals"]["events"] == 0 and len(counted["buckets"]) in (24, 25)
    code, out = _run(capsys, "admin", "activity", "--csv")
    assert code == 0 and out.splitlines() == [
        "recorded_at,kiosk,staff,mode,action,outcome,identifier_type,offline,unsigned,invalid,event_id"
    ]
    assert not (kiosk_env / "cache" / DB_NAME).exists()


def test_a_wrong_option_is_said_in_words_without_the_value(kiosk_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "admin", "activity", "--outcome", "Nguyễn Văn An", "--json")
    assert code == 1 and "--outcome" in json.loads(out)["error"] and "Nguyễn" not in out
    code, out = _run(capsys, "admin", "counts", "--since", "14/03/2026 ngày", "--json")
    assert code == 1 and json.loads(out)["error"].startswith("--since takes an ISO date") and "ngày" not in out
    code, out = _run(capsys, "admin", "counts", "--since", "2026-03-14", "--until", "2026-03-13", "--json")
    assert code == 1 and json.loads(out) == {"error": "--since must be before --until"}
