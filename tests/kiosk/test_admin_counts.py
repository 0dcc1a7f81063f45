"""The console's counts are the server's: after lookups through `kiosk lookup` against a running sandbox (found, not
found, consent, break-glass, a search, one answered from the offline cache while the server was away),
`kiosk admin counts --json` for the period equals the number of the kiosk's AuditEvents the server holds for it, as
the admin role counts them, in total, per hour and per staff member; `kiosk admin activity` lists the same actions,
as CSV too, without a patient value."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from offline_cache import RetryPolicy
from sandbox.server.audit import CLIENT_SYSTEM, ORIGIN_SYSTEM, STAFF_SYSTEM
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox as start_world
from testkit.kiosk import with_records
from testkit.server import STAFF_PINS, authorised_client
from tests.lookup.fhirserver import free_port

POPULATION = 300
KIOSK = "er-desk-7"
CCCD = DEFAULT_TABLE.system(IdentifierKind.CCCD)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_world(POPULATION) as running:
        yield running


def _environment(sandbox: RunningSandbox, folder: Path, server: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "KIOSK_SERVER": server or sandbox.base_url,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_MODE": "er",
        "KIOSK_TRUST_LIST": str(sandbox.trust_list_path),
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
        "KIOSK_AUDIT_JOURNAL_DIR": str(folder / "journal"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_KIOSK_NAME": KIOSK,
        "KIOSK_STAFF_ID": "nurse-lan",
        "KIOSK_STAFF_PIN": STAFF_PINS["nurse-lan"],
    }


def _kiosk(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=stdin,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    return done.stdout


def _look_up(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(_kiosk(env, "lookup", *args, "--json", "--timeout", "5", stdin=stdin))
    return found


def _server_count(admin: httpx.Client, since: dt.datetime, until: dt.datetime, agent: str) -> int:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("date", f"ge{since.isoformat()}"),
        ("date", f"lt{until.isoformat()}"),
        ("_tag", f"{ORIGIN_SYSTEM}|client-trail"),
        ("agent", agent),
        ("_summary", "count"),
    ]
    answer = admin.get("AuditEvent", params=params)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


def test_the_consoles_counts_equal_the_servers_audit_events(sandbox: RunningSandbox, tmp_path: Path) -> None:
    consenting = with_records(POPULATION, consented=True)[:2]
    refusing = with_records(POPULATION, consented=False)[0]
    env = _environment(sandbox, tmp_path)
    since = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reason = tmp_path / "reason.txt"
    reason.write_text("bệnh nhân hôn mê, cần xem dị ứng thuốc\n", encoding="utf-8")

    statuses = [
        _look_up(env, "--identifier", f"{CCCD}|{consenting[0].cccd}")["status"],
        _look_up(env, "--identifier", f"{CCCD}|099999999999")["status"],
        _look_up(env, "--qr-text-file", "-", stdin=cccd_qr_text(refusing))["status"],
        _look_up(env, "--qr-text-file", "-", "--break-glass-file", str(reason), stdin=cccd_qr_text(refusing))["status"],
        _look_up(env, "--family", consenting[1].family, "--given", consenting[1].given)["status"],
    ]
    away = _environment(sandbox, tmp_path, server=f"http://127.0.0.1:{free_port()}/fhir")
    cached = _look_up(away, "--identifier", f"{CCCD}|{consenting[0].cccd}")
    # Its event failed one delivery and waits out the first backoff; the next lookup online then delivers it.
    time.sleep(RetryPolicy().base_delay + 0.2)  # the longest first backoff
    statuses.append(_look_up(env, "--identifier", f"{CCCD}|{consenting[1].cccd}")["status"])
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert statuses[:3] == ["found", "not-found", "consent-required"] and statuses[3] == statuses[5] == "found"
    assert cached["status"] == "found" and cached["source"] == "cache"

    counted = json.loads(
        _kiosk(env, "admin", "counts", "--since", since.isoformat(), "--until", until.isoformat(), "--json")
    )
    totals = counted["totals"]
    auditor = STAFF_PINS["auditor-an"]
    with authorised_client(sandbox.base_url, "demo-admin", staff_id="auditor-an", staff_pin=auditor) as admin:
        on_server = _server_count(admin, since, until, f"{CLIENT_SYSTEM}|demo-er")
        assert totals["events"] == on_server >= 8  # a consent answer and its break-glass are two events each
        for bucket in counted["buckets"]:
            start = max(dt.datetime.fromisoformat(bucket["start"]), since)
            end = min(dt.datetime.fromisoformat(bucket["start"]) + dt.timedelta(hours=1), until)
            assert bucket["events"] == _server_count(admin, start, end, f"{CLIENT_SYSTEM}|demo-er")
        by_nurse = _server_count(admin, since, until, f"{STAFF_SYSTEM}|nurse-lan")
    # Offline too the nurse signed in (her PIN checked against this kiosk's cache), and the event names her.
    assert by_nurse == totals["events"]
    assert (totals["not_found"], totals["break_glass"], totals["offline"]) == (1, 1, 1)
    assert counted["break_glass_by_staff"] == [{"staff": "nurse-lan", "break_glass": 1}]

    listed = _kiosk(env, "admin", "activity", "--since", since.isoformat(), "--csv")
    rows = list(csv.DictReader(io.StringIO(listed)))
    assert len(rows) == totals["events"] and {r["kiosk"] for r in rows} == {KIOSK}
    assert [r["outcome"] for r in rows if r["offline"] == "yes"] == ["found"]
    glass = [r for r in rows if r["action"] == "break-glass"]
    assert [(r["outcome"], r["identifier_type"], r["staff"]) for r in glass] == [("found", "record", "nurse-lan")]
    only_missing = json.loads(_kiosk(env, "admin", "activity", "--outcome", "not-found", "--json"))
    assert [a["identifier_type"] for a in only_missing["activity"]] == ["cccd"]
    for person in (*consenting, refusing):
        assert person.cccd not in listed and person.family not in listed and person.given not in listed
