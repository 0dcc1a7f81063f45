"""Faults of trust, of documents and of the kiosk's own disk, through the whole stack: signatures that do not hold
are shown as such and never cached as valid; a full disk or a damaged cache file costs the cache, never the answer
or an audit event; time moved past the time-to-live returns nothing expired."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import ssl
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lookup.domain.model import LookupSource, LookupStatus, SignatureStatus
from lookup.service.lookup_service import LookupService
from lookup.service.results import LookupStep
from lookup.trust.trust_list import TrustList
from offline_cache import DB_NAME, CacheCorruptError, OfflineCache
from sandbox.server.facility_keys import FacilityKeys
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from tests.reliability.conftest import KioskFactory, consenting_people, run_cli, stored_kiosk_audits
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy


def _foreign_trust_list() -> TrustList:
    """Keys of other facilities (other keys, other key ids): none signed the sandbox's documents."""
    keys = FacilityKeys.generate().trust_list()["keys"]
    for key in keys:
        key["kid"] = f"elsewhere-{key['kid']}"
    return TrustList.from_jwks({"keys": keys})


async def test_documents_signed_by_keys_not_pinned_are_unknown_signer_online_and_offline(
    proxy: FaultProxy, make_kiosk: KioskFactory
) -> None:
    person = consenting_people(5)[4]
    kiosk = make_kiosk(trust=_foreign_trust_list())
    online = await kiosk.scan(person)
    assert online.status is LookupStatus.FOUND and online.summary is not None and online.summary.documents
    assert {d.signature.status for d in online.summary.documents} == {SignatureStatus.UNKNOWN_SIGNER}
    proxy.plan = FaultPlan(Fault.STATUS, status=500)
    offline = await kiosk.scan(person)
    assert offline.source is LookupSource.CACHE and offline.summary is not None
    assert {d.signature.status for d in offline.summary.documents} == {SignatureStatus.UNKNOWN_SIGNER}


async def test_a_tampered_document_is_invalid_and_never_cached_as_valid(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory
) -> None:
    person = consenting_people(6)[5]
    stored = sandbox.state.store.patient(person.patient_id)
    assert stored is not None
    documents = sandbox.state.documents(stored)  # made and signed now, as the server serves them
    target = documents[0]
    changed = json.loads(json.dumps(target))
    composition = changed["entry"][0]["resource"]
    composition["title"] = composition.get("title", "") + "."  # one clinical field, one character
    assert sandbox.state.store.replace_document(target["id"], orjson.dumps(changed))

    kiosk = make_kiosk()
    online = await kiosk.scan(person)
    assert online.status is LookupStatus.FOUND and online.summary is not None
    by_id = {d.id: d.signature.status for d in online.summary.documents}
    assert by_id[target["id"]] is SignatureStatus.INVALID
    assert all(status is SignatureStatus.VALID for doc_id, status in by_id.items() if doc_id != target["id"])

    proxy.plan = FaultPlan(Fault.HANG)
    offline = await kiosk.scan(person)
    assert offline.source is LookupSource.CACHE and offline.summary is not None
    assert {d.id: d.signature.status for d in offline.summary.documents}[target["id"]] is SignatureStatus.INVALID


async def test_a_full_disk_while_caching_still_shows_the_outcome_and_loses_no_audit(
    sandbox: RunningSandbox, make_kiosk: KioskFactory, caplog: pytest.LogCaptureFixture
) -> None:
    people = consenting_people(9)[6:9]
    kiosk = make_kiosk()
    assert (await kiosk.scan(people[0])).status is LookupStatus.FOUND
    # SQLite's page limit fails writes exactly as a full disk does ("database or disk is full").
    connection = kiosk.cache._db.conn
    pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
    connection.execute(f"PRAGMA max_page_count={pages}")
    steps: list[LookupStep] = []
    with caplog.at_level(logging.WARNING):
        outcomes = [await kiosk.scan(p, progress=steps.append) for p in people[1:]]
    for outcome in outcomes:
        assert outcome.status is LookupStatus.FOUND and outcome.source is LookupSource.NETWORK
        assert outcome.summary is not None and outcome.summary.documents
    assert any(s.name == "cache" and s.detail == "not stored" for s in steps)
    assert any("full" in r.getMessage().lower() or "CacheFullError" in r.getMessage() for r in caplog.records)
    await kiosk.service.aclose()  # waits for audit events sent directly when the outbox could not take them
    connection.execute("PRAGMA max_page_count=1073741823")
    kiosk.clock.advance(3600)
    later = LookupService(kiosk.service.config, trust=kiosk.trust, cache=kiosk.cache.records, outbox=kiosk.outbox)
    try:
        await later.flush_outbox()
    finally:
        await later.aclose()
    expected = {people[i].patient_id for i in (1, 2)}
    assert expected <= _audited_patients(sandbox)
    assert stored_kiosk_audits(sandbox, kiosk.outbox.audit_ids) == kiosk.outbox.audit_ids


def _audited_patients(sandbox: RunningSandbox) -> set[str]:
    """The patients the kiosks' own trails name (the server tags them apart from the events it writes itself)."""
    events, _ = sandbox.state.store.audits_of(None, 10_000, 0)
    found: set[str] = set()
    for event in events:
        origins = {str(tag.get("code")) for tag in event.get("meta", {}).get("tag", [])}
        if "client-trail" in origins:
            for entity in event.get("entity") or []:
                found.add(str(entity["what"]["reference"]).removeprefix("Patient/"))
    return found


async def test_time_moved_past_the_ttl_returns_nothing_expired(proxy: FaultProxy, make_kiosk: KioskFactory) -> None:
    person = consenting_people(10)[9]
    kiosk = make_kiosk()
    assert (await kiosk.scan(person)).status is LookupStatus.FOUND
    proxy.plan = FaultPlan(Fault.STATUS, status=500)
    assert (await kiosk.scan(person)).source is LookupSource.CACHE  # still within the time-to-live
    kiosk.clock.advance(3600 + 1)
    outcome = await kiosk.scan(person)
    assert outcome.status is LookupStatus.OFFLINE
    assert outcome.patient is None and outcome.summary is None and not outcome.candidates
    assert kiosk.cache.stats().records == 0


def test_a_corrupted_cache_file_is_named_and_lookups_still_work_online(
    sandbox: RunningSandbox, proxy: FaultProxy, tmp_path: Path
) -> None:
    person = consenting_people(11)[10]
    code, first, _ = run_cli(
        tmp_path, proxy.base_url("/fhir"), sandbox.trust_list_path, "--qr-text-file", "-", stdin=cccd_qr_text(person)
    )
    assert code == 0 and first["status"] == "found" and first["source"] == "network"
    cache_file = tmp_path / "cache" / DB_NAME
    assert cache_file.exists()
    data = bytearray(cache_file.read_bytes())
    data[0:100] = b"\x00" * 100  # the SQLite header gone
    cache_file.write_bytes(bytes(data))

    with pytest.raises(CacheCorruptError) as info:
        OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "cache.key", ttl_seconds=3600.0).close()
    assert str(cache_file) in str(info.value)

    code, again, stderr = run_cli(
        tmp_path, proxy.base_url("/fhir"), sandbox.trust_list_path, "--qr-text-file", "-", stdin=cccd_qr_text(person)
    )
    assert code == 0 and again["status"] == "found" and again["source"] == "network"
    assert str(cache_file) in stderr
    assert "Traceback" not in stderr


def test_the_command_line_answers_from_the_cache_through_a_killed_and_a_hanging_server(
    sandbox: RunningSandbox, proxy: FaultProxy, tmp_path: Path
) -> None:
    person = consenting_people(12)[11]
    text = cccd_qr_text(person)
    code, first, _ = run_cli(
        tmp_path, proxy.base_url("/fhir"), sandbox.trust_list_path, "--qr-text-file", "-", stdin=text
    )
    assert code == 0 and first["status"] == "found" and first["source"] == "network"
    assert {d["signature"] for d in first["summary"]["documents"]} == {"valid"}
    for plan, said in ((FaultPlan(Fault.KILL, "$summary"), "cut short"), (FaultPlan(Fault.HANG), "did not answer")):
        proxy.plan = plan
        code, data, stderr = run_cli(
            tmp_path, proxy.base_url("/fhir"), sandbox.trust_list_path, "--qr-text-file", "-", stdin=text
        )
        assert code == 0, stderr[-500:]
        assert data["status"] == "found" and data["source"] == "cache" and said in data["message"]
        assert data["summary"]["documents"] == first["summary"]["documents"]
    proxy.plan = None
    cache = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "cache.key", ttl_seconds=3600.0)
    try:
        waiting = cache.stats().outbox
    finally:
        cache.close()
    assert waiting.get("failed", 0) == 0  # the audits of the faulty runs wait in the outbox, none given up


def _self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 that no public authority signed: what an intercepting proxy presents."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_a_server_certificate_the_kiosk_does_not_trust_is_never_used(
    sandbox: RunningSandbox, proxy: FaultProxy, make_kiosk: KioskFactory, tmp_path: Path
) -> None:
    person = consenting_people(13)[12]
    trusted = make_kiosk()
    assert (await trusted.scan(person)).status is LookupStatus.FOUND
    with FaultProxy(f"http://127.0.0.1:{sandbox.port}", tls=_self_signed_tls(tmp_path)) as intercepting:
        kiosk = make_kiosk(cache=trusted.cache, base_url=intercepting.base_url("/fhir"))
        outcome = await kiosk.scan(person)
        other = await kiosk.scan(consenting_people(14)[13])
    assert outcome.status is LookupStatus.FOUND and outcome.source is LookupSource.CACHE
    assert outcome.message is not None
    assert other.status is LookupStatus.OFFLINE and other.patient is None
