"""The duplicate finder at the cache's edge: each patient stored is checked against the cached records that could
be the same person, and the whole cache can be scanned on demand; the pairs found go to the review queue.

The check: when the lookup service stores a patient (`OfflineStore.watch`), the records filed under the same
identifiers and birth date (without a whole date, the given name and birth year: `neighbour_keys`) are read, and the
pairs the patient makes with them are offered (`duplicate_pairs.pairs_with`). Each find decrypts only the few records
filed under its key, so a check costs about a lookup. The scan: every cached record is read once, in batches
(`ScannableCache.scan`); the candidate keys of each patient are made from the record as this kiosk stored it (it was
checked when it was stored), and only the patients that share a key with another are read again in full and paired
(`duplicate_pairs.find_pairs`, which finds among them exactly the pairs it would find among all). Records that share
no key are never compared, so a scan grows with the cache's size, not its square. What a pair shows (both records,
the score and the reasons) is handed to the queue as JSON, which the queue seals.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from lookup.domain.duplicates import DuplicatePair, DuplicateScan
from lookup.domain.model import Demographics, PatientRecord
from lookup.service.cache_protocol import CachedRecord, RecordCache, ReviewQueue
from lookup.service.duplicate_pairs import find_pairs, is_temporary, keys_of, may_pair, pairs_with
from lookup.service.offline_store import BLOCKING_PREFIX, PATIENT_KEY, identifier_key, number_key, stored_patient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Offer:
    """A pair as the review queue takes it (`cache_protocol.PairOffer`): its two record ids, score and details."""

    first: str
    second: str
    score: float
    details: bytes


def offer_of(pair: DuplicatePair) -> Offer:
    """The queue's view of a pair: the details are the whole pair as JSON (`DuplicatePair`), sealed by the queue."""
    return Offer(pair.first.id, pair.second.id, pair.score, orjson.dumps(pair.model_dump(mode="json")))


def _as_stored(record: CachedRecord) -> dict[str, Any] | None:
    """The `patient` of a cached patient record as it was stored (JSON, not checked again); None for another record
    or one that cannot be read."""
    if not record.key.startswith(PATIENT_KEY):
        return None
    try:
        found = orjson.loads(record.payload)
    except orjson.JSONDecodeError:
        return None
    patient = found.get("patient") if isinstance(found, dict) else None
    return patient if isinstance(patient, dict) else None


def _sketch(stored: dict[str, Any]) -> tuple[frozenset[str], bool] | None:
    """The candidate keys of a record this kiosk stored, and whether it knows no more than the birth year, read
    without checking the record again (it was checked when it was stored): checking every cached patient again would
    be most of a scan's time. None when it cannot be read."""
    try:
        person = stored.get("demographics") or {}
        born = person.get("birth_date")
        numbers = [number_key(str(i["system"]), str(i["value"])) for i in stored.get("identifiers") or ()]
        demographics = Demographics.model_construct(
            family=person.get("family"),
            middle=person.get("middle"),
            given=person.get("given"),
            birth_date=dt.date.fromisoformat(born) if isinstance(born, str) else None,
            birth_year=person.get("birth_year"),
        )
        return keys_of(numbers, demographics), demographics.birth_date is None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def pair_of(details: bytes) -> DuplicatePair:
    """The pair back from what the queue kept; raises ValueError (a pydantic ValidationError) when unreadable."""
    return DuplicatePair.model_validate(orjson.loads(details))


class DuplicateFinder:
    """Finds possible duplicates among the cached patients and offers them to the review queue."""

    def __init__(self, cache: RecordCache, queue: ReviewQueue) -> None:
        self.cache = cache
        self.queue = queue

    def check(self, record: PatientRecord) -> int:
        """Offer the pairs a patient just stored makes with the cached records that could be them; how many pairs
        are new to the queue. Cache faults are raised (the lookup service keeps them from its caller)."""
        if is_temporary(record):
            return 0
        from lookup.matching import neighbour_keys

        keys = [identifier_key(i) for i in record.identifiers]
        keys += [f"{BLOCKING_PREFIX}{key}" for key in neighbour_keys(record.demographics)]
        neighbours: dict[str, PatientRecord] = {}
        for key in dict.fromkeys(keys):
            for cached in self.cache.find(key):
                patient = stored_patient(cached)
                if patient is not None and patient.id != record.id:
                    neighbours[patient.id] = patient
        pairs = pairs_with(record, list(neighbours.values()))
        if not pairs:
            return 0
        found = self.queue.offer([offer_of(pair) for pair in pairs])
        if found:
            log.info("possible duplicates queued for review: %d", found)
        return found

    def scan(self, records: Iterable[CachedRecord]) -> DuplicateScan:
        """Find the pairs among every patient in `records` (a whole cache's scan) and offer them to the queue."""
        # Only the key and the candidate keys of each record are kept, from a light copy made and dropped at once:
        # holding 100,000 payloads, or the objects read from them, would fill the memory with what the garbage
        # collector walks again and again. The few records that may pair are read again in full.
        kept: list[str] = []
        keys: list[frozenset[str]] = []
        undated: list[bool] = []
        for record in records:
            found = _as_stored(record)
            sketch = _sketch(found) if found is not None else None
            if sketch is not None:
                kept.append(record.key)
                keys.append(sketch[0])
                undated.append(sketch[1])
        paired = []
        for key, pairs_here in zip(kept, may_pair(keys, undated), strict=True):
            cached = self.cache.get(key) if pairs_here else None
            patient = stored_patient(cached) if cached is not None else None
            if patient is not None:
                paired.append(patient)
        pairs = find_pairs(paired)
        new = self.queue.offer([offer_of(pair) for pair in pairs])
        log.info("duplicate scan: %d patients, %d pairs, %d new", len(kept), len(pairs), new)
        return DuplicateScan(patients=len(kept), pairs=len(pairs), new=new)
