"""Possible duplicates: the check when a patient is stored, and the scan of a whole cache, on N cached patients.

The cache holds N synthetic people as the lookup service stores them (each with a summary of a dozen items, filed
under its identifiers and blocking keys), and a hundredth of them registered a second time under another record id
and another CCCD (the planted duplicates). The check is timed on patients stored again, planted duplicates among
them; the scan reads the whole cache. Recall is the share of planted duplicates the scan offers for review.

SMOKE: 5,000 patients. FULL: 100,000 (floors: check p95 20 ms, scan 30 s, recall 1.0).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.report import Figure, Size
from lookup.domain.model import Identifier, PatientRecord, PatientSummary, SummaryItem
from lookup.service.duplicate_finder import DuplicateFinder
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.ranking import query_keys, record_keys
from offline_cache import NewRecord, OfflineCache
from sandbox.synthetic.population import SyntheticPerson, generate_people

NAME = "duplicates"
SEED = 20260314
CCCD = "http://fhir.hl7.org.vn/core/sid/cccd"
PLANTED_SHARE = 100
"""One person in this many is registered twice."""


def _record(person: SyntheticPerson, patient_id: str | None = None, cccd: str | None = None) -> PatientRecord:
    number = Identifier(system=CCCD, value=cccd or person.cccd)
    return PatientRecord(id=patient_id or person.patient_id, identifiers=(number,), demographics=person.demographics())


def _cached(record: PatientRecord) -> CachedPatient:
    items = tuple(SummaryItem(text=f"Mục {i} của hồ sơ tóm tắt, đủ dài như một dòng thật " * 2) for i in range(12))
    return CachedPatient(patient=record, summary=PatientSummary(patient=record, problems=items))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(size: Size) -> list[Figure]:
    n, checks = (100_000, 300) if size is Size.FULL else (5_000, 100)
    people = list(generate_people(n, SEED))
    rng = random.Random(SEED)
    planted = {p.patient_id: p for p in rng.sample(people, n // PLANTED_SHARE)}
    with tempfile.TemporaryDirectory(prefix="bench-duplicates-") as tmp:
        work = Path(tmp)
        cache = OfflineCache.open(work / "cache", key_file=work / "key", ttl_seconds=72 * 3600.0, max_bytes=2**40)
        try:
            store = OfflineStore(cache.records, clinical=True, record_keys=record_keys, query_keys=query_keys)
            batch: list[NewRecord] = []
            for person in people:
                records = [_record(person)]
                if person.patient_id in planted:
                    records.append(_record(person, f"again-{person.index}", f"{(person.index * 7919) % 10**12:012d}"))
                for record in records:
                    payload = orjson.dumps(_cached(record).model_dump(mode="json"))
                    batch.append(NewRecord(f"patient/{record.id}", payload, store.index_keys(record)))
                if len(batch) >= 2000:
                    cache.records.put_many(batch)
                    batch = []
            cache.records.put_many(batch)
            finder = DuplicateFinder(cache.records, cache.review)
            again = [_record(planted[pid]) for pid in list(planted)[: checks // 2]]
            again += [_record(person) for person in rng.sample(people, checks - len(again))]
            timings = []
            for record in again:
                started = time.perf_counter()
                finder.check(record)
                timings.append((time.perf_counter() - started) * 1000)
            cache.review.purge(everything=True)
            started = time.perf_counter()
            scanned = finder.scan(cache.records.scan())
            scan_seconds = time.perf_counter() - started
            offered = {(w.first, w.second) for w in cache.review.waiting(limit=10 * len(planted) + 1000)}
        finally:
            cache.close()
    wanted = {tuple(sorted((pid, f"again-{p.index}"))) for pid, p in planted.items()}
    recall = len(wanted & offered) / len(wanted)
    note = f"{n:,} cached patients with summaries, {len(planted):,} registered twice"
    return [
        Figure(
            benchmark=NAME,
            name="check when a patient is stored, p95",
            value=_quantile(timings, 0.95),
            unit="ms",
            floor=20.0,
            note=f"{note}; {len(timings)} checks, half of them of a duplicated person",
        ),
        Figure(
            benchmark=NAME,
            name="scan of the whole cache",
            value=scan_seconds,
            unit="s",
            floor=30.0,
            note=f"{note}; {scanned.pairs:,} pairs offered",
        ),
        Figure(
            benchmark=NAME,
            name="planted duplicates offered",
            value=recall,
            unit="share",
            floor=1.0,
            better="higher",
            note=f"{note}; the rest of the pairs offered are namesakes born the same day",
        ),
    ]
