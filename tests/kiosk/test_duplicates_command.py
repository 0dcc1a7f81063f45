"""`kiosk duplicates [--scan] [--json]`: the pairs waiting for review in this kiosk's cache, read by the command line
as the console lists them; nothing is made where there is no cache yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lookup.domain.model import Identifier, PatientRecord
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.ranking import query_keys, record_keys
from offline_cache import OfflineCache
from sandbox.synthetic.population import generate_people
from tests.lookup.fhirserver import CCCD


def kiosk(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_MODE": "er",
    }
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "duplicates", *args], capture_output=True, text=True, timeout=120, env=env
    )


def listed(folder: Path, *args: str) -> dict[str, Any]:
    done = kiosk(folder, *args, "--json")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    data: dict[str, Any] = json.loads(line)
    return data


def test_the_pairs_waiting_are_listed_likeliest_first(tmp_path: Path) -> None:
    assert listed(tmp_path) == {"count": 0, "pairs": [], "scanned": None}
    assert not (tmp_path / "cache").exists()  # asking made no cache

    person, other = list(generate_people(2, 3))
    cache = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "cache.key", ttl_seconds=72 * 3600.0)
    store = OfflineStore(cache.records, clinical=True, record_keys=record_keys, query_keys=query_keys)
    for patient_id, card in ((person.patient_id, person.cccd), ("p-again", other.cccd), (other.patient_id, other.cccd)):
        demographics = (other if patient_id == other.patient_id else person).demographics()
        number = Identifier(system=CCCD, value=card)
        assert store.save(
            CachedPatient(patient=PatientRecord(id=patient_id, identifiers=(number,), demographics=demographics))
        )
    cache.close()

    assert listed(tmp_path)["count"] == 0  # nothing was checked as it was cached: a scan finds the pairs
    found = listed(tmp_path, "--scan")
    assert found["scanned"] == {"patients": 3, "pairs": 2, "new": 2} and found["count"] == 2
    scores = [pair["score"] for pair in found["pairs"]]
    assert scores == sorted(scores, reverse=True)
    by_ids = {frozenset((pair["first"]["id"], pair["second"]["id"])): pair for pair in found["pairs"]}
    shares = by_ids[frozenset((other.patient_id, "p-again"))]  # one card number on two records
    assert [i["level"] for i in shares["identifiers"]] == ["agrees"]
    again = by_ids[frozenset((person.patient_id, "p-again"))]  # one person registered twice
    assert [i["level"] for i in again["identifiers"]] == ["differs"]
    assert again["first"]["id"] < again["second"]["id"] and again["found_at"]
    assert person.birth_date.isoformat() in (
        again["first"]["demographics"]["birth_date"],
        again["second"]["demographics"]["birth_date"],
    )
    assert listed(tmp_path, "--scan")["scanned"]["new"] == 0

    plain = kiosk(tmp_path)
    assert plain.returncode == 0 and plain.stdout.splitlines()[0] == "2 pairs waiting"
    assert person.given in plain.stdout and "p-again" in plain.stdout
