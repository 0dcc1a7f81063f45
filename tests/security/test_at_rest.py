"""Data at rest and secrets on the machine: what another local user, or whoever copies the cache folder, can get.

Attacks from the issue, each against the real parts: the cache folder and its database files are private whatever
existed before; the key does not live beside the database (a key file inside the folder is refused, an earlier
install's `<folder>/key` is moved out, the OS keyring keeps it where one is usable); a weak passphrase is refused
and a passphrase goes through a slow KDF kept with its parameters; `kiosk lookup` takes no secret on its command line
(`/proc/<pid>/cmdline` of a running lookup shows none); and an audit event written while both the cache and the
server are down waits in a durable journal and reaches the server on the next run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import pytest
from jaraco.classes.properties import classproperty
from keyring.backend import KeyringBackend
from keyring.backends import fail

from kiosk.services.cache import open_cache
from kiosk.settings import APP_NAME, Settings, load_settings
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.service.audit import audit_delivery, audit_event
from lookup.service.outbox_writer import OutboxWriter
from lookup.transport.client import FhirClient
from lookup.transport.config import ServerConfig
from offline_cache import DB_NAME, CacheKeyError, OfflineCache
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import start_sandbox
from testkit.kiosk import people
from tests.lookup.fhirserver import Faulty, free_port, serve

ROOT = Path(__file__).resolve().parents[2]
DB_FILES = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(cache_dir=tmp_path / "cache", config_file=None, **extra)


def _default_key_file(settings: Settings) -> Path:
    from kiosk.settings import default_key_file  # imported here, so each test says what fails on an older kiosk

    return default_key_file(settings.cache_dir)


class MemoryKeyring(KeyringBackend):
    """An OS keyring kept in memory: `keyring`'s documented extension point, so the kiosk's keyring path runs on a
    real backend object without touching the keyring of whoever runs the tests."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's base class has no annotations
        self.entries: dict[tuple[str, str], str] = {}

    @classproperty
    def priority(cls) -> float:
        raise RuntimeError("set explicitly by the tests; never chosen by keyring's own detection")

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A headless machine: keyring's `fail` backend, as on a Debian CI machine without a Secret Service."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # keyring's backends have no annotations
    try:
        yield
    finally:
        keyring.set_keyring(before)


# -- the folder and its files -------------------------------------------------------------------------------------


def test_the_cache_folder_and_every_database_file_are_made_private_whatever_existed(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with OfflineCache.open(folder, key_file=tmp_path / "key", ttl_seconds=3600.0) as cache:
        cache.records.put("patient/p1", b"kept")
    # What an earlier version, a restored backup or a hand-made folder leaves: readable by every local user.
    folder.chmod(0o755)
    (folder / DB_NAME).chmod(0o644)
    wal = folder / f"{DB_NAME}-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    with OfflineCache.open(folder, key_file=tmp_path / "key", ttl_seconds=3600.0) as cache:
        cache.records.put("patient/p2", b"new")
        assert _mode(folder) == 0o700
        present = {p.name for p in folder.iterdir()}
        assert {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"} <= present
        for name in present:
            assert _mode(folder / name) == 0o600, name
        got = cache.records.get("patient/p1")
        assert got is not None and got.payload == b"kept"


def test_a_new_cache_is_private_from_its_first_byte_under_a_loose_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        folder = tmp_path / "fresh"
        with OfflineCache.open(folder, key_file=tmp_path / "key", ttl_seconds=3600.0) as cache:
            cache.records.put("patient/p1", b"x")
            assert _mode(folder) == 0o700
            assert {p.name for p in folder.iterdir()} == DB_FILES
            assert {p.name: _mode(p) for p in folder.iterdir()} == dict.fromkeys(DB_FILES, 0o600)
    finally:
        os.umask(previous)


# -- where the key is ---------------------------------------------------------------------------------------------


def test_a_key_file_inside_the_cache_folder_is_refused_with_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    for inside in (folder / "key", folder / "sub" / "cache.key"):
        with pytest.raises(CacheKeyError) as info:
            OfflineCache.open(folder, key_file=inside, ttl_seconds=3600.0)
        assert "inside the cache folder" in str(info.value) and "whoever copies the folder" in str(info.value)
        assert not inside.exists()


def test_a_copied_cache_folder_holds_no_key_and_cannot_be_read(tmp_path: Path, no_keyring: None) -> None:
    settings = _settings(tmp_path)
    cache = open_cache(settings)
    try:
        cache.records.put("patient/p1", "Nguyễn Văn An".encode(), index_keys=["012345678901"])
    finally:
        cache.close()
    assert {p.name for p in settings.cache_dir.iterdir()} <= DB_FILES, "only the database is in the folder"
    key = _default_key_file(settings)
    assert key.exists() and not key.resolve().is_relative_to(settings.cache_dir.resolve())
    assert _mode(key) == 0o600 and _mode(key.parent) == 0o700
    # The attacker copies the folder; without the key (elsewhere, 0600) a fresh key does not open it.
    stolen = tmp_path / "stolen"
    shutil.copytree(settings.cache_dir, stolen)
    guess = tmp_path / "attacker.key"
    guess.write_text(os.urandom(32).hex())
    guess.chmod(0o600)
    with pytest.raises(CacheKeyError, match="another key"):
        OfflineCache.open(stolen, key_file=guess, ttl_seconds=3600.0)
    raw = b"".join(p.read_bytes() for p in stolen.iterdir())
    assert "Nguyễn".encode() not in raw and b"012345678901" not in raw


def test_a_key_beside_the_database_from_an_earlier_install_is_moved_out(
    tmp_path: Path, no_keyring: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    # The layout of the earlier version: the key file at <cache folder>/key.
    with OfflineCache.open(settings.cache_dir, key_file=tmp_path / "old.key", ttl_seconds=3600.0) as cache:
        cache.records.put("patient/p1", b"kept")
        cache.outbox.append("audit", "a1", b"{}")
    legacy = settings.cache_dir / "key"
    (tmp_path / "old.key").rename(legacy)
    secret = legacy.read_text().strip()

    with caplog.at_level(logging.INFO):
        moved = open_cache(settings)
    try:
        got = moved.records.get("patient/p1")
        assert got is not None and got.payload == b"kept"
        assert moved.stats().outbox["queued"] == 1, "the queued audit event survived the move"
    finally:
        moved.close()
    assert not legacy.exists()
    moved_to = _default_key_file(settings)
    assert moved_to.read_text().strip() == secret and _mode(moved_to) == 0o600
    said = [r.getMessage() for r in caplog.records if "moved the offline cache key" in r.getMessage()]
    assert len(said) == 1 and str(legacy) in said[0] and secret not in caplog.text


def test_the_os_keyring_keeps_the_key_where_a_backend_is_usable(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    settings = _settings(tmp_path)
    cache = open_cache(settings)
    try:
        cache.records.put("patient/p1", b"kept")
    finally:
        cache.close()
    entry = (APP_NAME, f"offline-cache:{settings.cache_dir.resolve()}")
    assert set(memory_keyring.entries) == {entry} and len(bytes.fromhex(memory_keyring.entries[entry])) == 32
    assert not _default_key_file(settings).exists(), "no key file where the keyring keeps the key"
    assert {p.name for p in settings.cache_dir.iterdir()} <= DB_FILES
    again = open_cache(settings)
    try:
        got = again.records.get("patient/p1")
        assert got is not None and got.payload == b"kept"
    finally:
        again.close()
    # An earlier install's key beside the database goes into the keyring too.
    other = _settings(tmp_path / "second")
    with OfflineCache.open(other.cache_dir, key_file=tmp_path / "old.key", ttl_seconds=3600.0) as old:
        old.records.put("patient/p2", b"old")
    (tmp_path / "old.key").rename(other.cache_dir / "key")
    moved = open_cache(other)
    try:
        got = moved.records.get("patient/p2")
        assert got is not None and got.payload == b"old"
    finally:
        moved.close()
    assert not (other.cache_dir / "key").exists() and len(memory_keyring.entries) == 2


def test_doctor_reports_loose_files_and_a_key_beside_the_database_as_errors(tmp_path: Path, no_keyring: None) -> None:
    from kiosk.commands.doctor import run_checks

    settings = _settings(tmp_path)
    with OfflineCache.open(settings.cache_dir, key_file=tmp_path / "old.key", ttl_seconds=3600.0):
        pass
    (tmp_path / "old.key").rename(settings.cache_dir / "key")
    settings.cache_dir.chmod(0o755)
    (settings.cache_dir / DB_NAME).chmod(0o644)
    checks = {c.name: c for c in run_checks(settings, timeout=0.1)}
    assert checks["cache"].status == "error" and f"{DB_NAME} (0644)" in checks["cache"].detail
    key_check = checks.get("cache-key")
    assert key_check is not None and key_check.status == "error" and "beside the database" in key_check.detail

    open_cache(settings).close()
    checks = {c.name: c for c in run_checks(settings, timeout=0.1)}
    assert checks["cache"].status == "ok" and checks["cache-key"].status == "ok"
    assert str(_default_key_file(settings)) in checks["cache-key"].detail


# -- passphrase ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["1", "password", "12345678", "Password123!", "benhvien2025", "aaaaaaaaaaaaaaaa"])
def test_a_weak_passphrase_is_refused_with_a_sentence(tmp_path: Path, weak: str) -> None:
    with pytest.raises(CacheKeyError) as info:
        OfflineCache.open(tmp_path / "cache", passphrase=weak, ttl_seconds=3600.0)
    text = str(info.value)
    assert "too weak" in text and "unrelated words" in text and weak not in text.split("(")[0]


def test_a_passphrase_goes_through_argon2id_kept_with_its_parameters(tmp_path: Path) -> None:
    phrase = "mưa phùn trên phố cổ lúc năm giờ sáng"
    with OfflineCache.open(tmp_path / "cache", passphrase=phrase, ttl_seconds=3600.0) as cache:
        cache.records.put("patient/p1", b"kept")
    conn = sqlite3.connect(tmp_path / "cache" / DB_NAME)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'kdf'").fetchone()
    finally:
        conn.close()
    assert row is not None
    kdf = json.loads(row[0])
    assert kdf["name"] == "argon2id" and kdf["memory_kib"] >= 64 * 1024 and kdf["iterations"] >= 3
    assert len(bytes.fromhex(kdf["salt"])) >= 16
    with OfflineCache.open(tmp_path / "cache", passphrase=phrase, ttl_seconds=3600.0) as again:
        got = again.records.get("patient/p1")
        assert got is not None and got.payload == b"kept"


# -- secrets on the command line ----------------------------------------------------------------------------------


def _lookup_env(tmp_path: Path, server: str) -> dict[str, str]:
    return {
        **os.environ,
        "KIOSK_SERVER": server,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(tmp_path / "cache.key"),
        "KIOSK_AUDIT_JOURNAL_DIR": str(tmp_path / "journal"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_MODE": "er",
    }


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--qr-text", "079190001234||Trần Thị Bình|01011990|Nữ|Hà Nội|01012021"),
        ("--break-glass", "ngất"),
        ("--passcode", "4711"),
    ],
)
def test_a_secret_given_on_the_command_line_is_refused_with_the_way_to_pass_it(
    tmp_path: Path, option: str, value: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "lookup", "--identifier", "urn:x|1", option, value, "--json"],
        cwd=ROOT,
        env=_lookup_env(tmp_path, "http://127.0.0.1:9/fhir"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode != 0 and "error" in answer, f"{option} was taken from the command line: {answer}"
    error = answer["error"]
    assert f"{option}-file PATH" in error and "process list" in error and value not in error


class HangingServer:
    """A TCP server on 127.0.0.1 that takes a connection and answers nothing until released: the lookup that
    connected is then alive, with its secrets read, for as long as the test needs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            self.connected.set()
            self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        self.sock.close()
        self.thread.join(10)


def test_no_secret_of_a_running_lookup_is_visible_in_its_process_list_entry(tmp_path: Path) -> None:
    qr = "079190001234||Trần Thị Bình|01011990|Nữ|12 Phố Huế, Hà Nội|01012021"
    reason, passcode = tmp_path / "reason.txt", tmp_path / "passcode.txt"
    reason.write_text("bất tỉnh, không người thân\n", encoding="utf-8")
    passcode.write_text("hidden-passcode-4711\n", encoding="utf-8")
    server = HangingServer()
    command = [
        sys.executable, "-m", "kiosk.cli", "lookup", "--qr-text-file", "-", "--break-glass-file", str(reason),
        "--passcode-file", str(passcode), "--timeout", "30", "--no-cache", "--json",
    ]  # fmt: skip
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_lookup_env(tmp_path, f"http://127.0.0.1:{server.port}/fhir"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdin is not None
        child.stdin.write(qr.encode())
        child.stdin.close()
        # The lookup has read its secrets and is waiting on the server: what every local user sees of it now.
        while not server.connected.wait(0.2):
            if child.poll() is not None:
                assert child.stderr is not None
                pytest.fail(f"the lookup ended before asking the server: {child.stderr.read().decode()[-500:]}")
        assert child.poll() is None
        shown = Path(f"/proc/{child.pid}/cmdline").read_bytes().decode("utf-8", "replace")
        assert "--qr-text-file" in shown
        for secret in ("079190001234", "Trần", "bất tỉnh", "hidden-passcode-4711"):
            assert secret not in shown
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        server.close()


# -- the audit journal --------------------------------------------------------------------------------------------


@dataclass
class RefusingAudits(Faulty):
    """The test server, refusing every AuditEvent as malformed (400) while `refuse` is set."""

    refuse: bool = False

    def route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.refuse and path.startswith("AuditEvent/"):
            return 400, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}, {}
        return super().route(method, path, query, headers, body)


class BrokenOutbox:
    """An outbox whose disk refuses every write (a cache that fails under the kiosk)."""

    def append(self, kind: str, idempotency_key: str, payload: bytes, *, kiosk: str | None = None) -> None:
        raise OSError("disk I/O error")

    def claim(self, limit: int = 20, *, key: str | None = None) -> list[Any]:
        return []

    def acknowledge(self, entry_id: int, receipt: Any = None) -> None: ...

    def fail(self, entry_id: int, reason: str, *, retry: bool = True, backoff: bool = True) -> None: ...


async def test_an_audit_event_the_outbox_refuses_waits_in_the_journal_until_the_server_takes_it(
    tmp_path: Path,
) -> None:
    from lookup.service.audit_journal import AuditJournal

    app = RefusingAudits()
    with serve(app) as base:
        config = ServerConfig(base_url=base, client_id="demo-er", client_secret="demo-er", timeout_s=0.5, retries=0)
        client = FhirClient(config)
        journal = AuditJournal(tmp_path / "journal", base)
        try:
            app.fault, app.fault_path = "500", "AuditEvent"
            writer = OutboxWriter(client, BrokenOutbox(), journal=journal)
            writer.audit("break-glass", "success", "p2", True, "cấp cứu")
            await writer.drain()
            waiting = journal.pending()
            assert len(waiting) == 1 and app.audits == {}
            path, delivery = waiting[0]
            assert _mode(path) == 0o600 and _mode(tmp_path / "journal") == 0o700
            assert json.loads(path.read_text())["delivery"] == delivery.model_dump()

            app.fault = None
            later = OutboxWriter(client, None, journal=journal)  # the next start, still without a cache
            assert await later.deliver() == 1
            assert list(app.audits) == [delivery.body["id"]] and journal.pending() == []
            assert not any((tmp_path / "journal").iterdir())

            # An event the server refuses as such (400) is set aside, kept, and not sent at every delivery.
            event = audit_event(action="lookup", result="success", client_id="demo-er", mode="er")
            refused = journal.keep(audit_delivery(event))
            app.refuse = True
            assert await later.deliver() == 0
            assert journal.pending() == [] and refused.with_suffix(".refused").exists()
            assert await later.deliver() == 0 and event["id"] not in app.audits
        finally:
            await client.aclose()


def test_an_audit_event_made_with_the_cache_and_the_server_down_reaches_the_server_on_the_next_run(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = f"http://127.0.0.1:{port}/fhir"
    env = _lookup_env(tmp_path, server)
    # The cache is unusable: its folder is taken by a file.
    (tmp_path / "cache").write_text("not a folder", encoding="utf-8")
    person = people(30)[7]
    journal = tmp_path / "journal"

    def lookup() -> dict[str, Any]:
        token = f"{DEFAULT_TABLE.system(IdentifierKind.CCCD)}|{person.cccd}"
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "lookup", "--identifier", token, "--json", "--timeout", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    assert lookup()["status"] == "offline"
    kept = sorted(journal.glob("*.json"))
    assert len(kept) == 1, "the process ended with the event on disk"
    event_id = kept[0].stem
    assert json.loads(kept[0].read_text())["delivery"]["path"] == f"AuditEvent/{event_id}"

    config = SandboxConfig(db_path=tmp_path / "sandbox.db", demo_clients=True, population=30, seed=20260314)
    with start_sandbox(config, trust_list_path=tmp_path / "trust.json", port=port) as running:
        env["KIOSK_TRUST_LIST"] = str(running.trust_list_path)
        assert lookup()["status"] in ("found", "consent-required")
        stored = running.state.store.audit(event_id)
    assert stored is not None and stored["outcomeDesc"] == "lookup: offline"
    assert list(journal.glob("*.json")) == []
