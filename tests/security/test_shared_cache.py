"""Attacks on the hospital's shared cache: whoever runs the database (an administrator, a restored backup, an
attacker on it) can move rows and replace the key check, but never make a kiosk show one patient as another, nor
make kiosks write under a key of their choosing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg

from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from tests.hospital.conftest import Hospital, coordination, hospital, json_line, kiosk_cli, kiosk_env
from tests.reliability.conftest import consenting_people

__all__ = ["coordination", "hospital"]  # the fixtures this module uses
DOWN = "http://127.0.0.1:9/fhir"


def _lookup(env: dict[str, str], qr: str) -> tuple[dict[str, object], subprocess.CompletedProcess[str]]:
    done = kiosk_cli("lookup", "--qr-text-file", "-", "--json", "--timeout", "0.5", env=env, stdin=qr)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    found: dict[str, object] = json_line(done)
    return found, done


def test_rows_swapped_in_the_database_never_show_another_patient(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    first, second = consenting_people(12)[10:12]
    desk = kiosk_env(tmp_path, hospital, coordination.base_url, coordination.trust_list_path, "er-swap-a")
    for person in (first, second):
        assert _lookup(desk, cccd_qr_text(person))[0]["source"] == "network"
    # The database's administrator gives every record the ciphertext of the next one.
    with psycopg.connect(hospital.cluster.dsn("kiosk_cache"), autocommit=True) as conn:
        conn.execute(
            "WITH rotated AS (SELECT id, coalesce(lead(sealed) OVER (ORDER BY id),"
            " (SELECT sealed FROM kiosk_cache.records ORDER BY id LIMIT 1)) AS other FROM kiosk_cache.records)"
            " UPDATE kiosk_cache.records r SET sealed = rotated.other FROM rotated WHERE r.id = rotated.id"
        )
    other_desk = kiosk_env(tmp_path, hospital, DOWN, coordination.trust_list_path, "er-swap-b")
    answer, done = _lookup(other_desk, cccd_qr_text(first))
    assert answer["status"] != "found", "a moved row is a missing record"
    shown = done.stdout + done.stderr
    for person in (first, second):
        assert person.full_name not in shown and person.cccd not in shown


def test_a_row_that_fails_authentication_does_not_cut_the_kiosk_off_the_shared_cache(
    hospital: Hospital, tmp_path: Path
) -> None:
    from offline_cache import OfflineCache
    from offline_cache.hospital import HospitalCache, SharedLink
    from offline_cache.keys import read_key_file
    from offline_cache.shared import SharedCache

    key = read_key_file(hospital.key_file)

    def kiosk(name: str) -> HospitalCache:
        local = OfflineCache.open(tmp_path / name, key_file=tmp_path / f"{name}.key", ttl_seconds=3600.0)
        link = SharedLink(lambda: SharedCache.connect(hospital.cache_url, master_key=key, ttl_seconds=3600.0), "s")
        return HospitalCache(local, link)

    with kiosk("writer") as writer:
        writer.records.put("test/damaged", b"one", index_keys=["test-index:damaged"])
        writer.records.put("test/sound", b"two", index_keys=["test-index:sound"])
    with psycopg.connect(hospital.cluster.dsn("kiosk_cache"), autocommit=True) as conn:
        rows = conn.execute("SELECT id FROM kiosk_cache.records ORDER BY id DESC LIMIT 2").fetchall()
        conn.execute("UPDATE kiosk_cache.records SET sealed = sealed || '\\x00'::bytea WHERE id = %s", (rows[1][0],))
    with kiosk("reader") as reader:
        assert reader.records.get("test/damaged") is None
        assert reader.records.find("test-index:damaged") == []
        assert reader.link.state == "connected", "one damaged row is a missing record, not a lost database"
        sound = reader.records.get("test/sound")
        assert sound is not None and sound.payload == b"two"


def test_a_shared_cache_under_another_key_is_refused_and_left_untouched(
    hospital: Hospital, coordination: RunningSandbox, tmp_path: Path
) -> None:
    other_key = tmp_path / "keys" / "other.key"
    other_key.parent.mkdir(mode=0o700)
    other_key.write_text("11" * 32 + "\n")
    other_key.chmod(0o600)
    env = kiosk_env(tmp_path, hospital, coordination.base_url, coordination.trust_list_path, "stranger")
    env["KIOSK_HOSPITAL_KEY_FILE"] = str(other_key)
    with psycopg.connect(hospital.cluster.dsn("kiosk_cache"), autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM kiosk_cache.records").fetchone()
    answer, _ = _lookup(env, cccd_qr_text(consenting_people(1)[0]))
    assert answer["status"] == "found", "the kiosk works on its own cache"
    stats = json_line(kiosk_cli("cache", "stats", "--json", env=env))
    hospital_cache = stats["hospital_cache"]
    assert hospital_cache["state"] == "refused" and "another hospital key" in hospital_cache["problem"]
    with psycopg.connect(hospital.cluster.dsn("kiosk_cache"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM kiosk_cache.records").fetchone() == before
    doctor = [json.loads(line) for line in kiosk_cli("doctor", "--json", env=env).stdout.splitlines()]
    shared = next(check for check in doctor if check["name"] == "shared-cache")
    assert shared["status"] == "error" and "another hospital key" in shared["detail"]
