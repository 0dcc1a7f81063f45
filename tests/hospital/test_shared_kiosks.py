"""Kiosks of one hospital on one shared cache (`cache_url`): what one kiosk looked up, another serves with the
coordination server down; with the shared cache down each kiosk works on its own cache and rejoins after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from tests.hospital.conftest import Hospital, json_line, kiosk_cli, kiosk_env
from tests.reliability.conftest import consenting_people

DOWN = "http://127.0.0.1:9/fhir"
"""A coordination server that is not there (the discard port: nothing listens)."""


def _lookup(env: dict[str, str], qr_text: str) -> dict[str, object]:
    done = kiosk_cli("lookup", "--qr-text-file", "-", "--json", "--timeout", "0.5", env=env, stdin=qr_text)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    found: dict[str, object] = json_line(done)
    return found


def _checks(stdout: str) -> dict[str, Any]:
    """`kiosk doctor --json`'s checks by name."""
    return {check["name"]: check for check in map(json.loads, stdout.splitlines())}


def test_a_patient_looked_up_on_one_kiosk_is_served_by_another_with_the_server_stopped(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    person = consenting_people(3)[2]
    qr = cccd_qr_text(person)
    online = f"{coordination.base_url}"
    a = kiosk_env(tmp_path, hospital, online, coordination.trust_list_path, "er-desk-a")
    first = _lookup(a, qr)
    assert first["status"] == "found" and first["source"] == "network"

    # Kiosk B has never seen this patient (its own cache is new) and the coordination server is gone.
    b = kiosk_env(tmp_path, hospital, DOWN, coordination.trust_list_path, "er-desk-b")
    served = _lookup(b, qr)
    assert served["status"] == "found" and served["source"] == "cache", served.get("message")
    assert served["summary"] == first["summary"]

    # A kiosk of another hospital (no shared cache) with the server down knows nothing of the patient.
    alone = {k: v for k, v in b.items() if k not in ("KIOSK_CACHE_URL", "KIOSK_HOSPITAL_KEY_FILE")}
    alone["KIOSK_CACHE_DIR"] = str(tmp_path / "elsewhere" / "cache")
    alone["KIOSK_CACHE_KEY_FILE"] = str(tmp_path / "elsewhere" / "cache.key")
    assert _lookup(alone, qr)["status"] != "found"


def test_cache_stats_and_doctor_name_the_shared_cache(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    env = kiosk_env(tmp_path, hospital, coordination.base_url, coordination.trust_list_path, "reception-1")
    stats = json_line(kiosk_cli("cache", "stats", "--json", env=env))
    assert stats["hospital_cache"]["state"] == "connected"
    assert stats["hospital_cache"]["where"].startswith("postgresql database kiosk_cache on 127.0.0.1")
    assert "kiosk_app" not in stats["hospital_cache"]["where"], "the address's user and password are never shown"

    done = kiosk_cli("doctor", "--json", env=env)
    checks = _checks(done.stdout)
    assert checks["shared-cache"]["status"] == "ok", checks["shared-cache"]
    password = hospital.cache_url.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr

    no_key = {**env, "KIOSK_HOSPITAL_KEY_FILE": str(tmp_path / "missing.key")}
    done = kiosk_cli("doctor", "--json", env=no_key)
    checks = _checks(done.stdout)
    assert checks["shared-cache"]["status"] == "error" and "does not exist" in checks["shared-cache"]["detail"]

    assert json_line(kiosk_cli("hospital", "migrate", "--json", env=env)) == {"migrations": []}


def test_with_the_shared_cache_down_a_kiosk_works_on_its_own_and_rejoins(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    person = consenting_people(5)[4]
    qr = cccd_qr_text(person)
    a = kiosk_env(tmp_path, hospital, coordination.base_url, coordination.trust_list_path, "er-desk-c")
    assert _lookup(a, qr)["source"] == "network"
    cluster = hospital.cluster
    cluster.stop(immediate=True)
    try:
        a_down = {**a, "KIOSK_SERVER": DOWN}
        answered = _lookup(a_down, qr)
        assert answered["status"] == "found" and answered["source"] == "cache", "from its own cache"
        stats = json_line(kiosk_cli("cache", "stats", "--json", env=a_down))
        assert stats["hospital_cache"]["state"] == "unreachable" and stats["outbox"]["queued"] >= 1
        done = kiosk_cli("doctor", "--json", env=a_down)
        checks = _checks(done.stdout)
        assert checks["shared-cache"]["status"] == "error" and "unreachable" in checks["shared-cache"]["detail"]
    finally:
        started = json_line(kiosk_cli("hospital", "start", "--dir", str(hospital.folder), "--json"))
    assert started["running"] is True
    # Back: the kiosk joins the shared cache again; its own backlog is still its own to deliver, nothing lost.
    stats = json_line(kiosk_cli("cache", "stats", "--json", env=a))
    assert stats["hospital_cache"]["state"] == "connected"
    assert stats["outbox"]["failed"] == 0
