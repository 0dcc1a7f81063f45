"""The activity log written by real lookups against the sandbox over loopback: one row per AuditEvent the kiosk
writes (the same id, the same instant), naming the kiosk, the staff member, the action, how it ended, the kind of
identifier, an answer from the offline cache and the documents that failed their check; never the patient."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier, LookupSource, LookupStatus, ScanResult
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import OfflineCache
from offline_cache.activity import ActivityEntry, ActivityQuery
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson
from scanners.payloads import interpret
from testkit.kiosk import sandbox as start_world
from testkit.kiosk import with_records
from testkit.server import STAFF_PINS, authorised_client
from tests.lookup.fhirserver import free_port

POPULATION = 300
KIOSK = "er-desk-1"
REASON = "bệnh nhân hôn mê, cần xem dị ứng thuốc"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_world(POPULATION) as running:
        yield running


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[OfflineCache]:
    opened = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600.0)
    yield opened
    opened.close()


def _service(base_url: str, sandbox: RunningSandbox, cache: OfflineCache) -> LookupService:
    config = ServerConfig(base_url=base_url, client_id="demo-er", client_secret="demo-er", timeout_s=5.0, retries=0)
    return LookupService(
        config,
        trust=TrustList.load(sandbox.trust_list_path),
        cache=cache.records,
        outbox=cache.outbox,
        activity=cache.activity,
        kiosk_name=KIOSK,
    )


def _scan(person: SyntheticPerson) -> ScanResult:
    return interpret(cccd_qr_text(person), format="QRCode", decoder="zxing-cpp")


def _tamper_one_document(sandbox: RunningSandbox, person: SyntheticPerson) -> None:
    """One character of one clinical field of one of the person's documents changed on the server."""
    stored = sandbox.state.store.patient(person.patient_id)
    assert stored is not None
    target = sandbox.state.documents(stored)[0]
    changed = json.loads(json.dumps(target))
    composition = changed["entry"][0]["resource"]
    composition["title"] = composition.get("title", "") + "."
    assert sandbox.state.store.replace_document(target["id"], orjson.dumps(changed))


async def test_each_audited_lookup_leaves_one_row_with_its_facts_and_nothing_of_the_patient(
    sandbox: RunningSandbox, cache: OfflineCache, tmp_path: Path
) -> None:
    consenting = with_records(POPULATION, consented=True)[0]
    refusing = with_records(POPULATION, consented=False)[0]
    _tamper_one_document(sandbox, consenting)
    online = _service(sandbox.base_url, sandbox, cache)
    offline = _service(f"http://127.0.0.1:{free_port()}/fhir", sandbox, cache)
    try:
        assert (await online.sign_in("nurse-lan", STAFF_PINS["nurse-lan"])).staff is not None
        found = await online.by_scan(_scan(consenting))
        nobody = Identifier(system=DEFAULT_TABLE.system(IdentifierKind.CCCD), value="099999999999")
        missing = await online.by_identifier(nobody)
        consent = await online.by_scan(_scan(refusing))
        glass = await online.break_glass(refusing.patient_id, REASON)
        searched = await online.by_demographics(consenting.demographics())
        assert (found.status, missing.status, consent.status, glass.status, searched.status) == (
            LookupStatus.FOUND,
            LookupStatus.NOT_FOUND,
            LookupStatus.CONSENT_REQUIRED,
            LookupStatus.FOUND,
            LookupStatus.FOUND,  # the whole name, birth date and sex: a certain match opens by itself
        )
        assert await online.flush_outbox() == online.writer.queued == 5
        from_cache = await offline.by_scan(_scan(consenting))
        assert from_cache.status is LookupStatus.FOUND and from_cache.source is LookupSource.CACHE
    finally:
        await online.aclose()
        await offline.aclose()

    rows = list(reversed(cache.activity.search(ActivityQuery())))
    facts = [(r.action, r.outcome, r.identifier_type, r.offline, r.invalid, r.unsigned) for r in rows]
    assert facts == [
        ("lookup", "found", "cccd", False, 1, 0),
        ("lookup", "not-found", "cccd", False, 0, 0),
        ("lookup", "consent-required", "cccd", False, 0, 0),
        ("break-glass", "found", "record", False, 0, 0),
        ("search", "found", "demographic", False, 1, 0),
        ("lookup", "found", "cccd", True, 1, 0),
    ]
    assert {(r.kiosk, r.mode) for r in rows} == {(KIOSK, "er")}
    assert [r.staff for r in rows] == ["nurse-lan"] * 5 + [None]  # the offline kiosk signed nobody in
    _the_server_holds_each_delivered_row_as_the_kiosks_event(sandbox, rows[:5])
    _no_patient_value_in_the_cache_files(tmp_path / "cache", [consenting, refusing])


def _the_server_holds_each_delivered_row_as_the_kiosks_event(
    sandbox: RunningSandbox, rows: list[ActivityEntry]
) -> None:
    with authorised_client(
        sandbox.base_url, "demo-admin", staff_id="auditor-an", staff_pin=STAFF_PINS["auditor-an"]
    ) as admin:
        for row in rows:
            answer = admin.get(f"AuditEvent/{row.event_id}")
            assert answer.status_code == 200, row.action
            event = answer.json()
            assert dt.datetime.fromisoformat(event["recorded"]) == row.recorded_at
            assert event["outcomeDesc"].startswith(f"{row.action}:")
            assert event["meta"]["tag"][0]["code"] == "client-trail"


def _no_patient_value_in_the_cache_files(folder: Path, people: list[SyntheticPerson]) -> None:
    raw = b"".join(path.read_bytes() for path in folder.iterdir() if path.is_file())
    assert b"nurse-lan" in raw and KIOSK.encode() in raw  # the check sees the log's clear columns
    for person in people:
        for value in (person.cccd, person.family, person.given, person.full_name, person.birth_date.isoformat()):
            # A name of two or three bytes ("Hà") turns up in this much ciphertext by chance, about one run in fifty:
            # only values long enough to mean something are looked for.
            if len(value.encode()) >= 6:
                assert value.encode() not in raw, "a patient value is in the cache file in clear"
