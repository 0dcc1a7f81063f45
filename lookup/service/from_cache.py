"""Answering from the offline cache when the server cannot: the same call, marked `source=cache` with its age.

What was withheld online stays withheld offline: a patient without consent comes back as `consent-required`, and a
summary that was released by break-glass is shown again only to another break-glass call. What the cache gives back
is bound to the call as the server's answers are (`lookup.service.binding`): the record found by a patient id has
that id, one found by identifiers carries one of them, and a summary is about the record it is kept with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from lookup.domain.model import (
    Candidate,
    Demographics,
    Identifier,
    LookupOutcome,
    LookupSource,
    LookupStatus,
    MatchGrade,
    PatientRecord,
    PatientSummary,
)
from lookup.service.binding import Subject, WrongPatientError, bind_record, carries_one_of
from lookup.service.offline_store import Hit, OfflineStore
from lookup.service.ranking import rank_records, worth_showing
from lookup.service.results import Reporter
from lookup.transport.faults import FhirError

CACHE: Final = "the offline copy"
_FOREIGN: Final = "a record of another patient"


def answer_from_cache(
    store: OfflineStore,
    fault: FhirError,
    rep: Reporter,
    *,
    identifiers: Sequence[Identifier],
    query: Demographics | None,
    patient_id: str | None,
    reason: str | None,
    population: int,
) -> LookupOutcome:
    """The cached answer to a lookup by patient id, identifiers or demographics, or `offline` with the fault."""
    rep.start("cache", "server unavailable")
    hits: list[Hit] = []
    if patient_id is not None:
        hit = store.get(patient_id)
        hits = [hit] if hit is not None else []
    elif identifiers:
        hits = store.by_identifiers(identifiers)
    if query is not None:
        hits = store.by_demographics(query)
        # The threshold of `certain` is the server's population, not the cache's: a person missing from the
        # cache must not let a look-alike who is in it pass as certain.
        ranked = worth_showing(rank_records(query, [h.entry.patient for h in hits], population))
        by_id = {h.entry.patient.id: h for h in hits}
        certain = [c for c in ranked if c.grade is MatchGrade.CERTAIN]
        if len(certain) != 1 and ranked:
            rep.done("cache", f"{len(ranked)} candidates")
            oldest = max(by_id[c.patient.id].age_seconds for c in ranked)
            return _cached(fault, LookupStatus.CANDIDATES, oldest, candidates=tuple(ranked[:10]))
        hits = [by_id[certain[0].patient.id]] if certain else []
    try:
        _bind(hits, patient_id, identifiers if query is None else ())
    except WrongPatientError as refused:
        rep.failed("cache", "wrong-patient")
        return LookupOutcome(status=LookupStatus.WRONG_PATIENT, message=refused.message)
    if len(hits) != 1:
        rep.failed("cache", "no cached record" if not hits else "several cached records")
        if len(hits) > 1:
            candidates = tuple(Candidate(patient=h.entry.patient, score=0.5, grade=MatchGrade.POSSIBLE) for h in hits)
            return _cached(fault, LookupStatus.CANDIDATES, max(h.age_seconds for h in hits), candidates=candidates)
        return LookupOutcome(status=LookupStatus.OFFLINE, message=fault.describe(), fault=fault.kind.value)
    hit = hits[0]
    entry = hit.entry
    rep.done("cache", f"{hit.age_seconds:.0f} s old")
    if (entry.consent_required or entry.break_glass) and reason is None:
        return _cached(fault, LookupStatus.CONSENT_REQUIRED, hit.age_seconds, patient=entry.patient)
    return _cached(
        fault,
        LookupStatus.FOUND,
        hit.age_seconds,
        patient=entry.patient,
        summary=entry.summary,
        break_glass=reason is not None,
    )


def _bind(hits: Sequence[Hit], patient_id: str | None, identifiers: Sequence[Identifier]) -> None:
    """Each cached record is the one asked for, and its summary is about it (a damaged or foreign cache entry is
    refused as a server's answer would be)."""
    for hit in hits:
        entry = hit.entry
        if patient_id is not None:
            bind_record(entry.patient, Subject(patient_id, source=CACHE))
        elif identifiers and not carries_one_of(entry.patient, identifiers):
            raise WrongPatientError(_FOREIGN, source=CACHE)
        if entry.summary is not None and entry.summary.patient.id != entry.patient.id:
            raise WrongPatientError(_FOREIGN, source=CACHE)


def _cached(
    fault: FhirError,
    status: LookupStatus,
    age_seconds: float,
    *,
    patient: PatientRecord | None = None,
    candidates: tuple[Candidate, ...] = (),
    summary: PatientSummary | None = None,
    break_glass: bool = False,
) -> LookupOutcome:
    """An answer from the cache: marked so, with the age of what it shows and the fault that sent the call here."""
    return LookupOutcome(
        status=status,
        source=LookupSource.CACHE,
        age_seconds=age_seconds,
        patient=patient,
        candidates=candidates,
        summary=summary,
        break_glass=break_glass,
        message=fault.describe(),
        fault=fault.kind.value,
    )
