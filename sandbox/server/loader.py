"""Filling a sandbox database: generated people in bulk, or FHIR Patients from an NDJSON file.

A generated database is recognised by its meta row (population, seed, document share, schema version) and reused
as it is; `cached_template` keeps one ready copy per (size, seed) so that test servers and the demo start by copying
a file instead of generating again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import orjson
import platformdirs

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import FHIR_ID
from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from lookup.domain.text import fold, phone_digits
from sandbox.server.fhir import columns_of, patient_resource
from sandbox.server.storage import SCHEMA_VERSION, PatientRow, Store
from sandbox.synthetic import clinical
from sandbox.synthetic.population import generate_people

_BATCH: Final = 50_000
CACHE_LIMIT: Final = 200_000
"""Populations up to this size are generated once per machine and copied; larger ones are built in place."""


class PatientImportError(ValueError):
    """An import file line that is not a FHIR Patient; the message names the line, never its content."""


def population_key(population: int, seed: int, share: float) -> str:
    return f"v{SCHEMA_VERSION}:n={population}:seed={seed}:share={share:g}"


def load_synthetic(store: Store, population: int, seed: int, share: float) -> None:
    """Generate `population` people into an empty store (rids 1..n for persons 0..n-1)."""
    cccd = store.system_id(DEFAULT_TABLE.system(IdentifierKind.CCCD))
    bhyt = store.system_id(DEFAULT_TABLE.system(IdentifierKind.BHYT))
    rows: list[PatientRow] = []
    idents: list[tuple[str, int, int]] = []
    appointments: list[tuple[str, int, int, str, int]] = []
    requests: list[tuple[str, int, str, str]] = []
    dumps = orjson.dumps
    with store.bulk():
        for person in generate_people(population, seed):
            rid = person.index + 1
            code = OLD_PROVINCES_BY_NAME[person.card_province].current_code
            documents = clinical.has_documents(person.index, seed, share)
            birth = person.birth_date.isoformat()
            rows.append(
                (
                    rid,
                    person.patient_id,
                    fold(person.family),
                    fold(person.given),
                    fold(f"{person.middle} {person.given}" if person.middle else person.given),
                    birth,
                    person.birth_date.year,
                    person.sex.value,
                    fold(person.province),
                    phone_digits(person.phone) or None,
                    int(clinical.has_consent(person.index, seed)),
                    int(documents),
                    person.index,
                    code,
                    dumps(patient_resource(person)),
                )
            )
            idents.append((person.cccd, cccd, rid))
            idents.append((person.bhxh, bhyt, rid))
            if documents:
                plan = clinical.events(person.index, seed, code)
                appointments.extend((a.id, rid, a.day, a.status, n) for n, a in enumerate(plan.appointments))
                requests.extend((r.id, rid, r.target.code, r.status) for r in plan.referrals)
            if len(rows) >= _BATCH:
                store.insert_patients(rows, idents)
                store.insert_events(appointments, requests)
                rows, idents, appointments, requests = [], [], [], []
        store.insert_patients(rows, idents)
        store.insert_events(appointments, requests)
        store.set_meta("population", population_key(population, seed, share))


def _patients_of(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise PatientImportError(f"{path.name} line {number}: not JSON") from None
            if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
                raise PatientImportError(f"{path.name} line {number}: not a FHIR Patient resource")
            yield number, resource


def import_ndjson(store: Store, path: Path) -> int:
    """Load FHIR Patients, one per line; a Patient without an id gets `i{row}`, a duplicate id replaces nothing."""
    start = store.max_rid()
    store.ensure_id_index()
    rows: list[PatientRow] = []
    idents: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    with store.bulk():
        for number, resource in _patients_of(path):
            rid = start + len(rows) + 1
            raw_id = resource.get("id")
            patient_id = raw_id if isinstance(raw_id, str) and raw_id else f"i{rid}"
            if not FHIR_ID.fullmatch(patient_id):
                raise PatientImportError(f"{path.name} line {number}: the Patient id is not a valid FHIR id")
            if patient_id in seen or store.patient(patient_id) is not None:
                raise PatientImportError(f"{path.name} line {number}: a Patient with this id is already loaded")
            seen.add(patient_id)
            resource["id"] = patient_id
            cols = columns_of(resource)
            rows.append(
                (
                    rid,
                    patient_id,
                    cols.family,
                    cols.given,
                    cols.given_all,
                    cols.birth_date,
                    cols.birth_year,
                    cols.gender,
                    cols.state,
                    cols.phone,
                    1,
                    0,
                    None,
                    None,
                    orjson.dumps(resource),
                )
            )
            idents.extend((value, store.system_id(system), rid) for system, value in cols.identifiers)
        store.insert_patients(rows, idents)
    return len(rows)


def cache_dir() -> Path:
    return Path(os.environ.get("KIOSK_SANDBOX_CACHE") or platformdirs.user_cache_dir("kiosk-sandbox"))


@lru_cache(maxsize=1)
def _generator_fingerprint() -> str:
    """Changes whenever the code that decides what a generated database holds changes, so no stale copy is used."""
    from lookup.domain import provinces, text
    from lookup.fhir import patient
    from sandbox.server import fhir, storage
    from sandbox.synthetic import names, population

    digest = hashlib.sha256()
    for module in (population, names, clinical, fhir, storage, text, provinces, patient):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def build_database(path: Path, population: int, seed: int, share: float) -> None:
    """A complete generated database at `path` (replacing whatever is there)."""
    path.unlink(missing_ok=True)
    store = Store(path)
    try:
        store.create_schema()
        load_synthetic(store, population, seed, share)
        store.finish_load()
        store.set_meta("indexed", "1")
        store.set_meta("anchor", "")
    finally:
        store.close()


def cached_template(population: int, seed: int, share: float) -> Path:
    """A ready generated database for these parameters, built once per machine and then reused."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"population-{population}-{seed}-{share:g}-v{SCHEMA_VERSION}-{_generator_fingerprint()}.sqlite"
    if target.exists():
        return target
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".building")
    os.close(handle)
    try:
        build_database(Path(temporary), population, seed, share)
        _checkpoint(Path(temporary))
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return target


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file and leave rollback journaling, so the file alone is the whole database."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(path: Path, population: int | None, seed: int, share: float, import_path: Path | None) -> Store:
    """Open the database at `path`, generating and importing as the configuration asks, ready to serve.

    A database that already holds this population is served as it is; a file already imported (same content) is
    not imported twice, so restarting a sandbox with the same command line works.
    """
    store = Store(path)
    store.create_schema()
    changed = False
    if population and store.count_patients() == 0:
        store.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if population > CACHE_LIMIT:
            build_database(path, population, seed, share)  # too big to keep a second copy of
        else:
            shutil.copyfile(cached_template(population, seed, share), path)
        store = Store(path)
        store.create_schema()
    elif population and store.meta("population") != population_key(population, seed, share):
        store.close()
        raise ValueError(f"{path}: holds another population; use a new database file or the same --synthetic/--seed")
    if import_path is not None:
        marker = f"import:{_file_digest(import_path)}"
        if store.meta(marker) is None:
            import_ndjson(store, import_path)
            store.set_meta(marker, import_path.name)
            changed = True
    if changed or store.meta("indexed") != "1":
        store.finish_load()
        store.set_meta("indexed", "1")
    else:
        store.serve_mode()
    today = dt.date.today().isoformat()
    if store.meta("anchor") != today:
        # Documents were dated from another day; they are remade, so a re-examination due today stays today.
        store.forget_documents()
        store.set_meta("anchor", today)
    return store
