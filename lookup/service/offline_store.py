"""What the lookup service keeps in the offline cache, and how it finds it again.

Each patient is one record (`patient/{id}`) holding the last answer about them: the record, the verified summary
with every document's signature status as it was checked on arrival (a status is stored, never recomputed upwards,
so a tampered document stays `invalid`), whether consent was missing, and whether the summary was released by
break-glass. It is indexed by each normalised identifier (`id:SYSTEM|VALUE`) and by demographic blocking keys
(`bk:...`), so the same call finds it offline. Raw Appointment resources are kept (non-clinical) for offline
check-in. Cache faults are logged by kind and never reach the caller: a cache is a help, not a dependency.
A patient stored is also handed to `watch` when one is set (the duplicate finder), whose faults are kept from the
caller the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from lookup.domain.model import Appointment, Demographics, Identifier, PatientRecord, PatientSummary
from lookup.service.cache_protocol import CachedRecord, RecordCache

log = logging.getLogger(__name__)

BlockingKeys = Callable[[Demographics], Iterable[str]]
PATIENT_KEY = "patient/"
"""What the key of every cached patient starts with (`patient/{id}`)."""
BLOCKING_PREFIX = "bk:"
"""What a demographic blocking key is filed under in the cache, beside the identifiers (`id:SYSTEM|VALUE`)."""


def identifier_key(identifier: Identifier) -> str:
    """The normalised `system|value` index key: values compared without case, spaces or dashes."""
    return number_key(identifier.system, identifier.value)


def number_key(system: str, value: str) -> str:
    """`identifier_key` of a system and a value read as they are."""
    return f"id:{system.strip()}|{''.join(filter(str.isalnum, value.upper()))}"


class CachedPatient(BaseModel):
    """The last answer about one patient, as stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patient: PatientRecord
    summary: PatientSummary | None = None
    consent_required: bool = False
    break_glass: bool = False
    """The summary was released by break-glass: offline, it is shown only to another break-glass call."""
    appointments: tuple[Appointment, ...] = ()


def stored_patient(record: CachedRecord) -> PatientRecord | None:
    """Who a cached record is about, read without its summary; None when it is no patient record or unreadable."""
    if not record.key.startswith(PATIENT_KEY):
        return None
    try:
        found = orjson.loads(record.payload)
        return PatientRecord.model_validate(found["patient"]) if isinstance(found, dict) else None
    except (ValidationError, orjson.JSONDecodeError, KeyError):
        log.warning("an offline cache record could not be read; ignored")
        return None


class Hit(BaseModel):
    """A cached patient and how old the record is."""

    model_config = ConfigDict(frozen=True)

    entry: CachedPatient
    age_seconds: float


class OfflineStore:
    """The lookup service's view of an optional RecordCache."""

    def __init__(
        self,
        cache: RecordCache | None,
        *,
        clinical: bool,
        record_keys: BlockingKeys | None,
        query_keys: BlockingKeys | None,
    ) -> None:
        self.cache = cache
        self.clinical = clinical
        self._blocking = record_keys
        self._query_keys = query_keys
        self.watch: Callable[[PatientRecord], object] | None = None
        """Called with each patient stored (the duplicate finder's check)."""

    def index_keys(self, record: PatientRecord) -> list[str]:
        """The keys a patient is filed under: each normalised identifier, and the demographic blocking keys."""
        keys = [identifier_key(i) for i in record.identifiers]
        if self._blocking is not None and not record.demographics.is_empty():
            try:
                keys.extend(f"{BLOCKING_PREFIX}{k}" for k in self._blocking(record.demographics))
            except Exception:
                log.warning("blocking keys could not be computed for a record", exc_info=True)
        return list(dict.fromkeys(keys))

    def save(self, entry: CachedPatient) -> bool:
        """Store the answer about a patient; clinical content is dropped when this kiosk may not keep it."""
        if self.cache is None:
            return False
        clinical = entry.summary is not None
        if clinical and not self.clinical:
            entry = entry.model_copy(update={"summary": None})
            clinical = False
        try:
            self.cache.put(
                f"{PATIENT_KEY}{entry.patient.id}",
                orjson.dumps(entry.model_dump(mode="json")),
                index_keys=self.index_keys(entry.patient),
                clinical=clinical,
            )
        except Exception as exc:
            log.warning("could not write to the offline cache (%s)", type(exc).__name__)
            return False
        if self.watch is not None:
            try:
                self.watch(entry.patient)
            except Exception as exc:
                log.warning("a stored patient could not be checked for duplicates (%s)", type(exc).__name__)
        return True

    def save_identity(self, patient: PatientRecord) -> bool:
        """Keep who the patient is, unless the cache already holds more about them (a summary, or the fact that
        consent was missing): a reception or lobby kiosk sharing a cache must not thin out what the ER kept."""
        held = self.get(patient.id)
        if held is not None and (held.entry.summary is not None or held.entry.consent_required):
            return False
        return self.save(CachedPatient(patient=patient))

    def _decode(self, record: CachedRecord, now: dt.datetime) -> Hit | None:
        try:
            entry = CachedPatient.model_validate(orjson.loads(record.payload))
        except (ValidationError, orjson.JSONDecodeError):
            log.warning("an offline cache record could not be read; ignored")
            return None
        age = max(0.0, (now - record.stored_at).total_seconds())
        return Hit(entry=entry, age_seconds=age)

    def get(self, patient_id: str) -> Hit | None:
        if self.cache is None:
            return None
        try:
            record = self.cache.get(f"patient/{patient_id}")
        except Exception as exc:
            log.warning("could not read the offline cache (%s)", type(exc).__name__)
            return None
        return self._decode(record, dt.datetime.now(dt.UTC)) if record is not None else None

    def _find(self, index_keys: Sequence[str]) -> list[Hit]:
        if self.cache is None:
            return []
        now = dt.datetime.now(dt.UTC)
        hits: dict[str, Hit] = {}
        for key in index_keys:
            try:
                records = self.cache.find(key)
            except Exception as exc:
                log.warning("could not search the offline cache (%s)", type(exc).__name__)
                return []
            for record in records:
                if not record.key.startswith("patient/") or record.key in hits:
                    continue
                hit = self._decode(record, now)
                if hit is not None:
                    hits[record.key] = hit
        return list(hits.values())

    def by_identifiers(self, identifiers: Sequence[Identifier]) -> list[Hit]:
        return self._find([identifier_key(i) for i in identifiers])

    def by_demographics(self, query: Demographics) -> list[Hit]:
        if self._query_keys is None:
            return []
        try:
            keys = [f"{BLOCKING_PREFIX}{k}" for k in self._query_keys(query)]
        except Exception:
            log.warning("blocking keys could not be computed for a query", exc_info=True)
            return []
        return self._find(keys)

    def save_appointment(self, patient_id: str, resource: dict[str, Any]) -> None:
        """Keep a raw Appointment (not clinical) so it can be checked in while offline."""
        if self.cache is None or not isinstance(resource.get("id"), str):
            return
        try:
            self.cache.put(
                f"appointment/{resource['id']}",
                orjson.dumps(resource),
                index_keys=[f"appointments-of:{patient_id}"],
                clinical=False,
            )
        except Exception as exc:
            log.warning("could not write an appointment to the offline cache (%s)", type(exc).__name__)

    def save_departments(self, departments: list[dict[str, str]]) -> None:
        """Keep the departments a walk-in may choose (nobody's data), so a walk-in can be queued offline."""
        if self.cache is None:
            return
        try:
            self.cache.put("departments", orjson.dumps(departments), clinical=False)
        except Exception as exc:
            log.warning("could not write the departments to the offline cache (%s)", type(exc).__name__)

    def departments(self) -> list[dict[str, str]]:
        if self.cache is None:
            return []
        try:
            record = self.cache.get("departments")
            data = orjson.loads(record.payload) if record is not None else []
        except Exception as exc:
            log.warning("could not read the departments from the offline cache (%s)", type(exc).__name__)
            return []
        return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []

    def appointment(self, appointment_id: str) -> dict[str, Any] | None:
        if self.cache is None:
            return None
        try:
            record = self.cache.get(f"appointment/{appointment_id}")
            data = orjson.loads(record.payload) if record is not None else None
        except Exception as exc:
            log.warning("could not read an appointment from the offline cache (%s)", type(exc).__name__)
            return None
        return data if isinstance(data, dict) else None

    def appointments_of(self, patient_id: str) -> list[dict[str, Any]]:
        if self.cache is None:
            return []
        try:
            records = self.cache.find(f"appointments-of:{patient_id}")
            found = [orjson.loads(r.payload) for r in records]
        except Exception as exc:
            log.warning("could not read appointments from the offline cache (%s)", type(exc).__name__)
            return []
        return [a for a in found if isinstance(a, dict)]
