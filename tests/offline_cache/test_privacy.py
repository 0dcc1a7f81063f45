"""No patient name, identifier or birth date in clear anywhere in the cache's files (database, log, shared memory)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from offline_cache import DB_NAME, NewRecord
from tests.offline_cache.conftest import Opener

NAME = "Nguyễn Thị Hồng Nhung"
CCCD = "001190012345"
BHXH = "0123456789"
BIRTH = "1990-01-02"
PHONE = "0912345678"


def _forms() -> set[bytes]:
    """Every way the values could show in the files: as written, unaccented, upper case, JSON-escaped, UTF-16."""
    plain = "".join(c for c in unicodedata.normalize("NFD", NAME) if unicodedata.category(c) != "Mn")
    texts = {NAME, plain, plain.upper(), plain.lower(), "Nhung", CCCD, BHXH, BIRTH, "02/01/1990", "02011990", PHONE}
    forms = {t.encode("utf-8") for t in texts}
    forms |= {json.dumps(t).strip('"').encode("ascii") for t in texts}
    forms |= {t.encode("utf-16-le") for t in (NAME, CCCD)}
    return forms


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.name.startswith(DB_NAME)}


def test_the_files_hold_no_patient_value_in_clear(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache()
    payload = json.dumps(
        {"name": NAME, "cccd": CCCD, "bhxh": BHXH, "birthDate": BIRTH, "dob": "02/01/1990", "phone": PHONE},
        ensure_ascii=False,
    ).encode("utf-8")
    index = [f"id:http://fhir.hl7.org.vn/core/sid/cccd|{CCCD}", f"id:bhyt|{BHXH}", f"bk:{NAME}|1990", f"tel:{PHONE}"]
    cache.records.put(f"patient/{CCCD}", payload, index_keys=index)
    cache.records.put_many(NewRecord(f"patient/{CCCD}-{i}", payload, index) for i in range(50))
    cache.outbox.append("audit", f"audit:{CCCD}:{BIRTH}", payload)
    cache.outbox.append("check-in", f"check-in:{CCCD}", payload)
    (entry, _) = cache.outbox.claim()
    cache.outbox.fail(entry.id, "server answered 503")
    cache.records.flush()
    directory = tmp_path / "cache"
    while_open = _files(directory)
    assert {f"{DB_NAME}-wal", f"{DB_NAME}-shm"} <= set(while_open)
    assert sum(len(b) for b in while_open.values()) > 50 * len(payload)  # the records are really in there
    found = cache.records.find(f"bk:{NAME}|1990")
    assert len(found) == 51 and found[0].payload == payload
    cache.close()
    after_close = _files(directory)
    for moment, files in (("open", while_open), ("closed", after_close)):
        for name, raw in files.items():
            for form in _forms():
                assert form not in raw, f"a patient value is in clear in {name} ({moment})"
