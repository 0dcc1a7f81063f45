"""A patient's records read one resource type at a time, for a server without `$summary`: the half of an assembled
answer that is not in signed documents.

Every resource type the summary shows is asked for (`RECORD_QUERIES`) when the server's CapabilityStatement lists
it (and, where it lists the type's search parameters, the patient one), or, when it publishes none, tried: a
404/400/405/501 then means "not offered" and says nothing about the patient. Each query asks `_count=PAGE_SIZE` and
follows `next` links (on the server's base only: the client refuses any other) up to `MAX_PAGES`. A section is never
shown as complete when it is not: the server's `total` says more than was received, or the page cap stopped the
reading (`incomplete`), or its query failed while the others answered (`not-read`). Missing consent, a refused
break-glass, a refused redirect and a failed sign-in still stop the lookup; so does a server that answered none of
them while it had no documents either (`Records.unavailable`).

A resource also found inside a signed document (same type and id, or same fullUrl) is shown once, from the document;
every other record is shown `unsigned`. A document whose signature failed (tampered, another facility's key) hides
no record: the server's own copy is shown beside it (`shown_records`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lookup.domain.model import FAILED_SIGNATURES, SectionState, SignatureCheck
from lookup.fhir.bundles import bundle_total, next_link, search_matches
from lookup.fhir.clinical import stronger
from lookup.fhir.primitives import items
from lookup.service.audit import BREAK_GLASS, PURPOSE_HEADER
from lookup.transport.client import FhirClient
from lookup.transport.faults import REFUSED_KINDS, FaultKind, FhirError

Json = dict[str, Any]
PROBE_KINDS: Final = frozenset({FaultKind.NOT_FOUND, FaultKind.NOT_SUPPORTED, FaultKind.BAD_REQUEST})
"""Answers that mean "this server has no such operation" when it was tried without being advertised."""
STOP_KINDS: Final = frozenset({FaultKind.CONSENT_REQUIRED, FaultKind.UNAUTHORIZED, *REFUSED_KINDS})
"""Faults of one record query that stop the whole lookup: they are about the kiosk or the patient, not a section."""
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 5
RECORD_QUERIES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("AllergyIntolerance", "patient", ("allergies",)),
    ("Condition", "patient", ("problems",)),
    ("MedicationStatement", "patient", ("medications",)),
    # Active e-prescriptions are current medication too (`lookup.fhir.clinical.reconciled`).
    ("MedicationRequest", "patient", ("prescriptions", "medications")),
    ("Immunization", "patient", ("immunizations",)),
    # Blood type and other critical facts are Observations as well as lab results.
    ("Observation", "patient", ("results", "critical_facts")),
    ("Encounter", "patient", ("encounters",)),
    ("Appointment", "patient", ("appointments",)),
    ("ServiceRequest", "patient", ("referrals",)),
)
"""(resource type, patient search parameter, the summary sections its results fill)."""


@dataclass
class Records:
    """What the record queries of one patient gave: (fullUrl, resource) pairs, and the sections not fully read."""

    found: list[tuple[str | None, Json]] = field(default_factory=list)
    gaps: dict[str, SectionState] = field(default_factory=dict)
    unavailable: FhirError | None = None
    """The fault of a server that answered none of the queries and was unavailable for one: with no documents
    either, there is no answer to show and the offline cache may give one."""

    def gap(self, sections: Iterable[str], state: SectionState) -> None:
        for name in sections:
            self.gaps[name] = stronger(self.gaps.get(name), state)


@dataclass(frozen=True, slots=True)
class _Answer:
    """One record query's outcome: its results and whether it read them all, or its fault, or not offered."""

    sections: tuple[str, ...]
    found: list[tuple[str | None, Json]]
    complete: bool = True
    fault: FhirError | None = None
    offered: bool = True


def glass_refused(exc: FhirError, headers: Mapping[str, str]) -> bool:
    """A 400 to a break-glass request is the server refusing the reason, never a sign that it lacks the operation:
    taken for a missing operation, it would quietly turn into a smaller answer assembled from other searches."""
    return exc.kind is FaultKind.BAD_REQUEST and headers.get(PURPOSE_HEADER) == BREAK_GLASS


def first_fault(group: BaseExceptionGroup[FhirError]) -> FhirError:
    """The fault to report of several parallel requests: missing consent first (it is an answer), then the first."""
    faults = [e for e in group.exceptions if isinstance(e, FhirError)]
    consent = [e for e in faults if e.kind is FaultKind.CONSENT_REQUIRED]
    return (consent or faults)[0]


async def read_pages(client: FhirClient, first: Json, limit: int = MAX_PAGES) -> list[Json]:
    """A searchset and its following pages (at most `limit`); the last page keeps its `next` link when the cap
    stopped the reading. A link off the server's base is refused by the client (`FaultKind.FOREIGN_ORIGIN`)."""
    pages = [first]
    link = next_link(first)
    while link and len(pages) < limit:
        base = client.base_url
        path = link[len(base) :] if link.startswith(base) else link
        page = await client.get(path)
        pages.append(page)
        link = next_link(page)
    return pages


async def records(client: FhirClient, patient_id: str, headers: Mapping[str, str], timeout_s: float) -> Records:
    """Every offered record query of one patient, in parallel. Raises `FhirError` for a fault that stops the
    lookup (`STOP_KINDS`, a refused break-glass); every other fault becomes a `not-read` section."""
    features = await client.features()
    listed = features.described and bool(features.resource_types)

    async def one(resource_type: str, param: str, sections: tuple[str, ...]) -> _Answer:
        params = {param: f"Patient/{patient_id}", "_count": str(PAGE_SIZE)}
        try:
            first = await client.get(resource_type, params, headers=headers, timeout_s=timeout_s)
        except FhirError as exc:
            if exc.kind in STOP_KINDS or glass_refused(exc, headers):
                raise
            if not listed and exc.kind in PROBE_KINDS:
                return _Answer(sections, [], offered=False)
            return _Answer(sections, [], complete=False, fault=exc)
        try:
            pages = await read_pages(client, first)
        except FhirError as exc:
            if exc.kind in STOP_KINDS:
                raise
            # The pages read are shown; the section says it is not all.
            return _Answer(sections, search_matches(first, resource_type), complete=False, fault=exc)
        found = [match for page in pages for match in search_matches(page, resource_type)]
        total = bundle_total(first)
        complete = next_link(pages[-1]) is None and (total is None or total <= len(found))
        return _Answer(sections, found, complete)

    wanted = [(t, p, s) for t, p, s in RECORD_QUERIES if features.supports_search(t, p)]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(t, p, s)) for t, p, s in wanted]
    except* FhirError as failed:
        raise first_fault(failed) from None
    answers = [task.result() for task in tasks]
    out = Records()
    for answer in answers:
        out.found.extend(answer.found)
        if answer.fault is not None:
            out.gap(answer.sections, SectionState.NOT_READ)
        elif not answer.complete:
            out.gap(answer.sections, SectionState.INCOMPLETE)
    faults = [a.fault for a in answers if a.fault is not None]
    if faults and all(a.fault is not None or not a.offered for a in answers):
        out.unavailable = next((f for f in faults if f.offline), None)
    return out


def shown_records(
    documents: Sequence[tuple[Mapping[str, Any], SignatureCheck]], found: Iterable[tuple[str | None, Json]]
) -> list[Json]:
    """The records to show as `unsigned`: those not inside a document whose signature did not fail."""
    return unsigned_only([d for d, check in documents if check.status not in FAILED_SIGNATURES], found)


def unsigned_only(documents: Sequence[Mapping[str, Any]], found: Iterable[tuple[str | None, Json]]) -> list[Json]:
    """The records not already inside one of the documents (by type and id, or by fullUrl), each once."""
    seen: set[str] = set()
    for document in documents:
        for entry in items(document.get("entry")):
            if not isinstance(entry, Mapping):
                continue
            if isinstance(entry.get("fullUrl"), str):
                seen.add(entry["fullUrl"])
            resource = entry.get("resource")
            if isinstance(resource, Mapping) and isinstance(resource.get("id"), str):
                seen.add(f"{resource.get('resourceType')}/{resource['id']}")
    out: list[Json] = []
    for url, resource in found:
        key = f"{resource.get('resourceType')}/{resource['id']}" if isinstance(resource.get("id"), str) else None
        if (url is not None and url in seen) or (key is not None and key in seen):
            continue
        if url is not None:
            seen.add(url)
        if key is not None:
            seen.add(key)
        out.append(resource)
    return out
