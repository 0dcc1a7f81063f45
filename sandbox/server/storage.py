"""The sandbox's SQLite database: Patients as FHIR JSON plus folded search columns, and what refers to them.

Built for bulk: a fresh database is filled with `executemany` in large transactions with journaling off and no
indexes, which are created once at the end; then it switches to WAL so readers and the occasional writer (check-in,
audit, lazily signed documents) do not block each other. One connection is shared behind a lock: every query is a
short indexed lookup, and SQLite serialises writers anyway.

Tables: `patients` (one row per Patient; `synthetic_index` links a generated person to the seed), `identifiers`
(system, value -> patient), `appointments` and `service_requests` (searchable across people, so made while
loading), `documents` (signed document Bundles, made on first request), `audit_events`, `visits` (arrivals and
their queue numbers), `identity_links` (a temporary identity linked to a real patient, and the walk-ins the link
moved, so the undo moves back exactly those), `provenances`, `linkages` (two Patients found to be one person, one row
per pair of them), `meta`. The header's
`application_id` marks the file as a sandbox database, and a `Store` opens nothing else.
"""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import orjson

SCHEMA_VERSION: Final = 3
APPLICATION_ID: Final = 0x4B534258
"""SQLite's `application_id` header field of every sandbox database ("KSBX"): what tells it from other SQLite files,
such as a kiosk's offline cache, before anything is written to them."""
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS systems (id INTEGER PRIMARY KEY, uri TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS patients (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL, family TEXT NOT NULL, given TEXT NOT NULL, given_all TEXT NOT NULL,
    birth_date TEXT, birth_year INTEGER, gender TEXT, state TEXT NOT NULL, phone TEXT,
    consent INTEGER NOT NULL, documents INTEGER NOT NULL, synthetic_index INTEGER, province_code TEXT,
    json BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS identifiers (value TEXT NOT NULL, system INTEGER NOT NULL, rid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT NOT NULL, rid INTEGER NOT NULL, day INTEGER NOT NULL, status TEXT NOT NULL, number INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS service_requests (
    id TEXT NOT NULL, rid INTEGER NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, rid INTEGER NOT NULL, type TEXT NOT NULL, json BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_events (
    id TEXT PRIMARY KEY, patient TEXT, recorded TEXT NOT NULL, json BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS visits (
    ref TEXT PRIMARY KEY, rid INTEGER NOT NULL, day INTEGER NOT NULL, department TEXT NOT NULL,
    number INTEGER NOT NULL, facility TEXT, json BLOB);
CREATE TABLE IF NOT EXISTS identity_links (
    temporary_rid INTEGER PRIMARY KEY, target_rid INTEGER NOT NULL, was_active INTEGER NOT NULL, moved TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS provenances (id TEXT PRIMARY KEY, target TEXT NOT NULL, json BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS provenances_target ON provenances (target);
CREATE TABLE IF NOT EXISTS linkages (id TEXT PRIMARY KEY, pair TEXT NOT NULL UNIQUE, json BLOB NOT NULL);
"""

_INDEXES: Final = """
CREATE UNIQUE INDEX IF NOT EXISTS patients_id ON patients (id);
CREATE INDEX IF NOT EXISTS patients_given ON patients (given, birth_year);
CREATE INDEX IF NOT EXISTS patients_family ON patients (family, given);
CREATE INDEX IF NOT EXISTS patients_birth ON patients (birth_date);
CREATE INDEX IF NOT EXISTS patients_phone ON patients (phone);
CREATE INDEX IF NOT EXISTS identifiers_value ON identifiers (value, system);
CREATE UNIQUE INDEX IF NOT EXISTS appointments_id ON appointments (id);
CREATE INDEX IF NOT EXISTS appointments_rid ON appointments (rid, day);
CREATE UNIQUE INDEX IF NOT EXISTS service_requests_id ON service_requests (id);
CREATE INDEX IF NOT EXISTS service_requests_target ON service_requests (target, status);
CREATE INDEX IF NOT EXISTS service_requests_rid ON service_requests (rid);
CREATE INDEX IF NOT EXISTS documents_rid ON documents (rid);
CREATE INDEX IF NOT EXISTS audit_patient ON audit_events (patient);
"""

PatientRow = tuple[Any, ...]
"""rid, id, family, given, given_all, birth_date, birth_year, gender, state, phone, consent, documents,
synthetic_index, province_code, json."""


@dataclass(frozen=True, slots=True)
class StoredPatient:
    """One patient row with its FHIR resource."""

    rid: int
    id: str
    consent: bool
    has_documents: bool
    synthetic_index: int | None
    province_code: str | None
    resource: dict[str, Any]


class NotASandboxDatabaseError(ValueError):
    """The file is not a sandbox database (another program's SQLite file, a text file...); it is left untouched."""


def check_sandbox_database(path: Path) -> None:
    """Raise `NotASandboxDatabaseError` unless `path` is missing, empty, or a sandbox database.

    Reads the file only: a sandbox database carries `APPLICATION_ID` in its header; one made before that mark is
    recognised by its tables, all of them the sandbox's own."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise NotASandboxDatabaseError(f"{path}: cannot check what the file holds ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotASandboxDatabaseError(f"{path}: is not a file, so not a sandbox database")
    if info.st_size == 0:
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise NotASandboxDatabaseError(f"{path}: cannot check what the file holds ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise NotASandboxDatabaseError(f"{path}: is not a sandbox database (not an SQLite file); it was left untouched")
    application = int.from_bytes(header[68:72], "big")
    if application == APPLICATION_ID:
        return
    if application == 0:
        tables = _tables_of(path)
        if tables and "patients" in tables and tables <= _sandbox_tables():
            return
    raise NotASandboxDatabaseError(
        f"{path}: is not a sandbox database (an SQLite file of another program); it was left untouched"
    )


def _tables_of(path: Path) -> set[str] | None:
    """The tables of an SQLite file, read without locking or writing anything (`immutable`), or None."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_")}


@lru_cache(maxsize=1)
def _sandbox_tables() -> frozenset[str]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        return frozenset(str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        conn.close()


class Store:
    """The database of one sandbox. Thread-safe: one connection behind a lock.

    Opening refuses a file that is not a sandbox database (`NotASandboxDatabaseError`) before touching it."""

    def __init__(self, path: Path) -> None:
        check_sandbox_database(path)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._systems: dict[str, int] = {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- set-up and bulk loading ------------------------------------------------------------------------------
    def create_schema(self) -> None:
        with self._lock:
            # The mark goes first, so a start interrupted half-way still leaves a file recognised as a sandbox's.
            if self._conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._conn.executescript(_SCHEMA)
            self._systems = dict(self._conn.execute("SELECT uri, id FROM systems").fetchall())

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Fast loading into a database no one else reads yet: no journal, no fsync, one transaction."""
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = OFF")
            self._conn.execute("PRAGMA synchronous = OFF")
            self._conn.execute("PRAGMA cache_size = -200000")
            self._conn.execute("BEGIN")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def finish_load(self) -> None:
        """Indexes, statistics, and WAL for serving."""
        with self._lock:
            self._conn.executescript(_INDEXES)
            self._conn.execute("ANALYZE")
            self.serve_mode()

    def ensure_id_index(self) -> None:
        """The patient id index, so per-row id checks stay fast while importing into a loaded database."""
        with self._lock:
            self._conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS patients_id ON patients (id)")

    def serve_mode(self) -> None:
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")

    def system_id(self, uri: str) -> int:
        found = self._systems.get(uri)
        if found is None:
            with self._lock:
                cursor = self._conn.execute("INSERT OR IGNORE INTO systems (uri) VALUES (?)", (uri,))
                found = cursor.lastrowid if cursor.rowcount else None
                if not found:
                    found = int(self._conn.execute("SELECT id FROM systems WHERE uri = ?", (uri,)).fetchone()[0])
                self._systems[uri] = found
        return found

    def known_system(self, uri: str) -> int | None:
        """The id of an identifier system already stored, without adding it."""
        found = self._systems.get(uri)
        if found is None:
            with self._lock:
                row = self._conn.execute("SELECT id FROM systems WHERE uri = ?", (uri,)).fetchone()
            found = None if row is None else int(row[0])
        return found

    def insert_patients(self, rows: Sequence[PatientRow], identifiers: Iterable[tuple[str, int, int]]) -> None:
        with self._lock:
            self._conn.executemany(f"INSERT INTO patients VALUES ({','.join('?' * 15)})", rows)
            self._conn.executemany("INSERT INTO identifiers VALUES (?, ?, ?)", identifiers)

    def insert_events(
        self, appointments: Sequence[tuple[str, int, int, str, int]], requests: Sequence[tuple[str, int, str, str]]
    ) -> None:
        with self._lock:
            self._conn.executemany("INSERT INTO appointments VALUES (?, ?, ?, ?, ?)", appointments)
            self._conn.executemany("INSERT INTO service_requests VALUES (?, ?, ?, ?)", requests)

    def max_rid(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(rid), 0) FROM patients").fetchone()[0])

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- patients ---------------------------------------------------------------------------------------------
    _PATIENT_COLUMNS: Final = "rid, id, consent, documents, synthetic_index, province_code, json"

    @staticmethod
    def _patient(row: Sequence[Any]) -> StoredPatient:
        return StoredPatient(
            rid=int(row[0]),
            id=str(row[1]),
            consent=bool(row[2]),
            has_documents=bool(row[3]),
            synthetic_index=row[4],
            province_code=row[5],
            resource=orjson.loads(row[6]),
        )

    def patient(self, patient_id: str) -> StoredPatient | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._PATIENT_COLUMNS} FROM patients WHERE id = ?", (patient_id,)
            ).fetchone()
        return None if row is None else self._patient(row)

    def patient_by_rid(self, rid: int) -> StoredPatient | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._PATIENT_COLUMNS} FROM patients WHERE rid = ?", (rid,)).fetchone()
        return None if row is None else self._patient(row)

    def search_patients(
        self, where: Sequence[str], params: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[StoredPatient], int]:
        """Patients matching every clause (AND), ordered by row, with the total count."""
        clause = " AND ".join(where) if where else "1"
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM patients WHERE {clause}", params).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT {self._PATIENT_COLUMNS} FROM patients WHERE {clause} ORDER BY rid LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [self._patient(r) for r in rows], total

    def demographics_rows(self, where: str, params: Sequence[Any], limit: int) -> list[tuple[Any, ...]]:
        """(rid, id, family, given, given_all, birth_date, birth_year, gender, state, phone) of candidates."""
        with self._lock:
            return self._conn.execute(
                "SELECT rid, id, family, given, given_all, birth_date, birth_year, gender, state, phone "
                f"FROM patients WHERE {where} LIMIT ?",
                (*params, limit),
            ).fetchall()

    def all_patients(self, batch: int = 50_000) -> Iterator[list[tuple[str, bytes]]]:
        """(id, json) of every patient, in batches (to build the matching engine)."""
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT rid, id, json FROM patients WHERE rid > ? ORDER BY rid LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield [(str(r[1]), bytes(r[2])) for r in rows]

    def count_patients(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM patients").fetchone()[0])

    def patients_fingerprint(self, samples: int = 4096) -> str:
        """A digest of the Patients that changes when people are added, removed or rewritten, read in well under a
        second at a million people: their count, rid range and total resource size, the population and import
        marks, and the whole rows of `samples` people spread evenly over the rids (every row of a small database).
        """
        with self._lock:
            count, low, high, size = self._conn.execute(
                "SELECT COUNT(*), MIN(rid), MAX(rid), TOTAL(LENGTH(json)) FROM patients"
            ).fetchone()
            marks = self._conn.execute(
                "SELECT key, value FROM meta WHERE key = 'population' OR key LIKE 'import:%' ORDER BY key"
            ).fetchall()
        digest = hashlib.sha256(repr((SCHEMA_VERSION, count, low, high, size, marks)).encode("utf-8"))
        if count:
            step = max(1, (int(high) - int(low)) // max(samples, 1))
            rids = [*range(int(low), int(high), step), int(high)]
            for start in range(0, len(rids), 500):
                chunk = rids[start : start + 500]
                with self._lock:
                    rows = self._conn.execute(
                        f"SELECT rid, id, json FROM patients WHERE rid IN ({','.join('?' * len(chunk))}) ORDER BY rid",
                        chunk,
                    ).fetchall()
                for rid, patient_id, data in rows:
                    digest.update(f"{rid}|{patient_id}|{len(data)}|".encode())
                    digest.update(data)
        return digest.hexdigest()

    # -- temporary identities and their links ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (the store's lock held throughout); the methods below are its steps."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def add_patient(self, row: PatientRow, identifiers: Iterable[tuple[str, int]]) -> StoredPatient:
        """Insert a Patient (`row` without its rid, which is given here) unless one with its id exists: the stored
        one either way. Only inside `transaction()`."""
        patient_id = row[0]
        found = self.patient(patient_id)
        if found is not None:
            return found
        cursor = self._conn.execute(f"INSERT INTO patients VALUES (NULL, {','.join('?' * 14)})", row)
        rid = int(cursor.lastrowid or 0)
        self._conn.executemany("INSERT INTO identifiers VALUES (?, ?, ?)", [(v, s, rid) for v, s in identifiers])
        stored = self.patient_by_rid(rid)
        assert stored is not None
        return stored

    def set_patient_json(self, rid: int, data: bytes) -> None:
        with self._lock:
            self._conn.execute("UPDATE patients SET json = ? WHERE rid = ?", (data, rid))

    def identity_link(self, temporary_rid: int) -> tuple[int, bool, list[str]] | None:
        """(target rid, whether the temporary Patient was active, the refs the link moved), or None: not linked."""
        with self._lock:
            row = self._conn.execute(
                "SELECT target_rid, was_active, moved FROM identity_links WHERE temporary_rid = ?", (temporary_rid,)
            ).fetchone()
        return None if row is None else (int(row[0]), bool(row[1]), [str(r) for r in orjson.loads(row[2])])

    def put_identity_link(self, temporary_rid: int, target_rid: int, was_active: bool, moved: Sequence[str]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO identity_links VALUES (?, ?, ?, ?)",
                (temporary_rid, target_rid, int(was_active), orjson.dumps(list(moved)).decode()),
            )

    def drop_identity_link(self, temporary_rid: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM identity_links WHERE temporary_rid = ?", (temporary_rid,))

    def visits_of(self, rid: int) -> list[tuple[str, bytes | None]]:
        """(ref, json) of the arrivals recorded under one patient."""
        with self._lock:
            rows = self._conn.execute("SELECT ref, json FROM visits WHERE rid = ? ORDER BY rowid", (rid,)).fetchall()
        return [(str(r[0]), r[1]) for r in rows]

    def move_visit(self, ref: str, from_rid: int, to_rid: int, data: bytes | None) -> bool:
        """Record an arrival under another patient (with its rewritten JSON); False when it is not `from_rid`'s."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE visits SET rid = ?, json = ? WHERE ref = ? AND rid = ?", (to_rid, data, ref, from_rid)
            )
        return cursor.rowcount > 0

    def put_provenance(self, provenance_id: str, target: str, data: bytes) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO provenances VALUES (?, ?, ?)", (provenance_id, target, data))

    def provenances_of(self, target: str) -> list[dict[str, Any]]:
        """The Provenances of one target (`Patient/{id}`), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT json FROM provenances WHERE target = ? ORDER BY rowid", (target,)
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def add_linkage(self, linkage_id: str, pair: str, data: bytes) -> dict[str, Any]:
        """Keep a Linkage for a pair of Patients (`pair`: their ids in sorted order, `|`-joined) unless one is kept
        already; the one kept for the pair."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO linkages (id, pair, json) VALUES (?, ?, ?) ON CONFLICT (pair) DO NOTHING",
                (linkage_id, pair, data),
            )
            row = self._conn.execute("SELECT json FROM linkages WHERE pair = ?", (pair,)).fetchone()
        return dict(orjson.loads(row[0]))

    # -- appointments and referrals ---------------------------------------------------------------------------
    def appointments_of(self, rid: int, day_from: int | None, day_to: int | None) -> list[tuple[str, int, str, int]]:
        """(id, day, status, number) of a patient's appointments within the day offsets (inclusive)."""
        low = -(10**6) if day_from is None else day_from
        high = 10**6 if day_to is None else day_to
        with self._lock:
            return self._conn.execute(
                "SELECT id, day, status, number FROM appointments WHERE rid = ? AND day BETWEEN ? AND ? ORDER BY day",
                (rid, low, high),
            ).fetchall()

    def appointment(self, appointment_id: str) -> tuple[int, int, str, int] | None:
        """(rid, day, status, number) of one appointment."""
        with self._lock:
            row = self._conn.execute(
                "SELECT rid, day, status, number FROM appointments WHERE id = ?", (appointment_id,)
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]), int(row[3]))

    def set_appointment_status(self, appointment_id: str, status: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE appointments SET status = ? WHERE id = ?", (status, appointment_id))

    # -- arrivals: queue numbers of checked-in appointments and walk-ins ---------------------------------------
    def visit(self, ref: str) -> tuple[int, int, str, int, bytes | None] | None:
        """(rid, day, department, number, json) of one arrival (`Appointment/{id}` or `Encounter/{id}`)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT rid, day, department, number, json FROM visits WHERE ref = ?", (ref,)
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]), int(row[3]), row[4])

    def add_visit(self, ref: str, rid: int, day: int, department: str, facility: str | None) -> int:
        """The queue number of an arrival: the next of its department that day, or the one it already has."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT number FROM visits WHERE ref = ?", (ref,)).fetchone()
                if row is None:
                    row = self._conn.execute(
                        "SELECT COALESCE(MAX(number), 0) + 1 FROM visits WHERE day = ? AND department = ?",
                        (day, department),
                    ).fetchone()
                    self._conn.execute(
                        "INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        (ref, rid, day, department, row[0], facility),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(row[0])

    def set_visit_json(self, ref: str, data: bytes) -> None:
        with self._lock:
            self._conn.execute("UPDATE visits SET json = ? WHERE ref = ?", (data, ref))

    def walk_ins_on(self, day: int, facility: str | None, limit: int, offset: int) -> tuple[list[bytes], int]:
        """The walk-in Encounters of one day (at one facility, when given), in arrival order, with the total."""
        where = "ref LIKE 'Encounter/%' AND day = ? AND json IS NOT NULL" + (" AND facility = ?" if facility else "")
        params: list[Any] = [day, facility] if facility else [day]
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM visits WHERE {where}", params).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT json FROM visits WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        return [bytes(r[0]) for r in rows], total

    def service_requests(
        self, target: str | None, status: str | None, rid: int | None, limit: int, offset: int
    ) -> tuple[list[tuple[str, int, str]], int]:
        """(id, rid, status) of referrals filtered by performer, status and patient, with the total."""
        where, params = [], []
        for column, value in (("target", target), ("status", status), ("rid", rid)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where) if where else "1"
        with self._lock:
            total = int(
                self._conn.execute(f"SELECT COUNT(*) FROM service_requests WHERE {clause}", params).fetchone()[0]
            )
            rows = self._conn.execute(
                f"SELECT id, rid, status FROM service_requests WHERE {clause} ORDER BY rowid LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows], total

    def service_request_owner(self, request_id: str) -> tuple[int, str] | None:
        """(rid, status) of one referral."""
        with self._lock:
            row = self._conn.execute("SELECT rid, status FROM service_requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    # -- documents and audit ----------------------------------------------------------------------------------
    def documents_of(self, rid: int) -> list[dict[str, Any]] | None:
        """The stored documents of a patient in order, or None when they were never made."""
        with self._lock:
            rows = self._conn.execute("SELECT json FROM documents WHERE rid = ? ORDER BY rowid", (rid,)).fetchall()
        return [orjson.loads(r[0]) for r in rows] if rows else None

    def save_documents(self, rid: int, documents: Sequence[tuple[str, str, bytes]]) -> None:
        """Store (id, LOINC type, JSON) documents once; a concurrent second writer changes nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?)", [(d, rid, t, j) for d, t, j in documents]
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def replace_document(self, document_id: str, data: bytes) -> bool:
        """Overwrite a stored document's JSON (used to prove that tampering is detected)."""
        with self._lock:
            return self._conn.execute("UPDATE documents SET json = ? WHERE id = ?", (data, document_id)).rowcount > 0

    def forget_documents(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM documents")

    def put_audit(self, event_id: str, patient: str | None, recorded: str, data: bytes) -> bool:
        """Store an audit event; False (and nothing changed) when the id is already stored."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO audit_events VALUES (?, ?, ?, ?)", (event_id, patient, recorded, data)
            )
            return cursor.rowcount > 0

    def audit(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT json FROM audit_events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def audits_of(self, patient: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        if patient is None:
            return self.audits_where([], [], limit, offset)
        return self.audits_where(["patient = ?"], [patient], limit, offset)

    def audits_where(
        self, where: Sequence[str], params: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the audit events the SQL conditions (of `sandbox.server.audit_search`) select, oldest first,
        and how many they select in all."""
        clause = " AND ".join(where) or "1"
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM audit_events WHERE {clause}", params).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT json FROM audit_events WHERE {clause} ORDER BY rowid LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows], total

    def audits_all(self, where: Sequence[str], params: Sequence[Any]) -> list[dict[str, Any]]:
        """Every audit event the SQL conditions select, oldest first (for a search by content)."""
        clause = " AND ".join(where) or "1"
        with self._lock:
            rows = self._conn.execute(f"SELECT json FROM audit_events WHERE {clause} ORDER BY rowid", params).fetchall()
        return [orjson.loads(r[0]) for r in rows]
