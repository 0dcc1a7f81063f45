"""`kiosk deliveries`: the outbox's messages in their delivery states, read back from its CSV with `csv.DictReader`,
filtered, as JSON, and never with a payload or a name in it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from lookup.service.receipts import Receipt
from offline_cache import OfflineCache, RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
NAME = "Trần Thị Bích Ngọc"
TEMPORARY = "TMP123456782"
SERVER_TIME = dt.datetime(2026, 3, 1, 1, 30, 5, tzinfo=dt.UTC)
HEADER = ["queued_at", "kiosk", "kind", "state", "attempts", "next_try", "server_id", "server_time", "reason"]


def _kiosk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "deliveries", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
            "KIOSK_CACHE_KEY_FILE": str(tmp_path / "key"),
            "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        },
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _rows(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    done = _kiosk(tmp_path, "--csv", *args)
    assert done.returncode == 0, done.stderr
    reader = csv.DictReader(io.StringIO(done.stdout))
    assert reader.fieldnames == HEADER
    return list(reader)


def _fill(tmp_path: Path) -> None:
    """One message in each delivery state, from two kiosks; the registration's payload names the person."""
    policy = RetryPolicy(base_delay=600, lease_seconds=3600)
    with OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600, retry=policy) as cache:
        outbox = cache.outbox
        outbox.append("audit", "event-1", b'{"resourceType": "AuditEvent"}', kiosk="er-desk-1")
        outbox.append("check-in", "check-in:a1", b'{"resourceType": "Appointment"}', kiosk="reception-2")
        outbox.append("registration", f"register:{TEMPORARY}", f'{{"name": "{NAME}"}}'.encode(), kiosk="er-desk-1")
        outbox.append("link", "link:1", b"{}", kiosk="er-desk-1")
        (audit,) = outbox.claim(key="event-1")
        outbox.acknowledge(audit.id, Receipt(server_id="AuditEvent/event-1", server_time=SERVER_TIME))
        (arrival,) = outbox.claim(key="check-in:a1")
        outbox.fail(arrival.id, "the server failed (HTTP 500)")
        (registration,) = outbox.claim(key=f"register:{TEMPORARY}")
        outbox.fail(registration.id, "the server rejected the request (HTTP 422)", retry=False)


def test_the_csv_lists_each_message_in_its_delivery_state(tmp_path: Path) -> None:
    assert _rows(tmp_path) == [], "no cache yet: a header and no message, and no cache made"
    assert not (tmp_path / "cache").exists()
    _fill(tmp_path)
    rows = {row["kind"]: row for row in _rows(tmp_path)}
    assert {kind: row["state"] for kind, row in rows.items()} == {
        "audit": "delivered",
        "check-in": "retrying",
        "registration": "given-up",
        "link": "sent",
    }
    delivered = rows["audit"]
    assert (delivered["server_id"], delivered["server_time"]) == ("AuditEvent/event-1", "2026-03-01T01:30:05+00:00")
    assert (delivered["kiosk"], delivered["attempts"], delivered["next_try"], delivered["reason"]) == (
        "er-desk-1",
        "1",
        "",
        "",
    )
    retrying = rows["check-in"]
    assert (retrying["kiosk"], retrying["attempts"], retrying["reason"]) == (
        "reception-2",
        "1",
        "the server failed (HTTP 500)",
    )
    next_try = dt.datetime.fromisoformat(retrying["next_try"])
    assert next_try > dt.datetime.fromisoformat(retrying["queued_at"]) + dt.timedelta(seconds=250)
    given_up = rows["registration"]
    assert (given_up["reason"], given_up["server_id"], given_up["next_try"]) == (
        "the server rejected the request (HTTP 422)",
        "",
        "",
    )
    waiting = rows["link"]
    assert (waiting["attempts"], waiting["reason"], waiting["server_id"], waiting["next_try"] != "") == (
        "0",
        "",
        "",
        True,
    )
    everything = _kiosk(tmp_path, "--csv").stdout
    assert NAME not in everything and "Ngọc" not in everything, "never a payload"


def test_the_filters_and_the_json_say_the_same(tmp_path: Path) -> None:
    _fill(tmp_path)
    assert [row["kind"] for row in _rows(tmp_path, "--state", "delivered")] == ["audit"]
    assert [row["kind"] for row in _rows(tmp_path, "--kiosk", "reception-2")] == ["check-in"]
    assert sorted(row["kind"] for row in _rows(tmp_path, "--kind", "registration")) == ["registration"]
    assert [row["kind"] for row in _rows(tmp_path, "--search", "http 500")] == ["check-in"]
    assert [row["kind"] for row in _rows(tmp_path, "--search", "auditevent/")] == ["audit"]
    assert _rows(tmp_path, "--since", "2999-01-01") == []
    assert len(_rows(tmp_path, "--since", "2000-01-01T00:00+07:00", "--limit", "2")) == 2

    done = _kiosk(tmp_path, "--json", "--state", "given-up")
    (line,) = done.stdout.splitlines()
    listed = json.loads(line)
    assert listed["count"] == 1 and listed["deliveries"][0]["delivery"] == "given-up"
    assert "payload" not in listed["deliveries"][0] and NAME not in line

    plain = _kiosk(tmp_path, "--state", "retrying")
    assert plain.returncode == 0 and "reception-2" in plain.stdout and plain.stdout.endswith("1 messages\n")

    wrong = _kiosk(tmp_path, "--json", "--since", "last tuesday")
    assert wrong.returncode == 1 and "--since takes an ISO date" in json.loads(wrong.stdout)["error"]
    refused = _kiosk(tmp_path, "--json", "--limit", "0")
    assert refused.returncode == 1 and "--limit" in json.loads(refused.stdout)["error"]
