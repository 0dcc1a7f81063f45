"""Reception and lobby: today's appointments, check-in (idempotent, queued in the outbox when offline), and
prefetch of what is addressed to this facility.

A check-in is a `PUT Appointment/{id}` of the whole resource with status `arrived`: sending it twice is harmless,
so the outbox may deliver it again after a crash without harm.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from lookup.domain.model import Appointment
from lookup.fhir.documents import appointment_of
from lookup.fhir.references import references, target
from lookup.service.binding import Subject, WrongPatientError, bind_records
from lookup.service.fetch import Fetcher
from lookup.service.offline_store import OfflineStore
from lookup.service.outbox_writer import OutboxWriter
from lookup.service.results import CheckInResult, PrefetchResult
from lookup.transport.client import FhirClient
from lookup.transport.faults import FaultKind, FhirError

log = logging.getLogger(__name__)
PREFETCH_CONCURRENCY = 4


def _subject(resource: dict[str, Any]) -> str | None:
    """The id of the patient an Appointment (its participants) or a ServiceRequest (its subject) is about."""
    for _element, ref in references(resource):
        found = target(ref, None, resource)
        if found is not None and found.type == "Patient" and found.id is not None:
            return found.id
    return None


def _appointments(resources: list[dict[str, Any]]) -> list[Appointment]:
    found: list[Appointment] = []
    for resource in resources:
        try:
            found.append(appointment_of(resource))
        except (ValidationError, ValueError):
            continue
    return sorted(found, key=lambda a: a.start)


class Reception:
    """The reception/lobby half of the service, sharing its client, cache and outbox writer."""

    def __init__(self, client: FhirClient, fetch: Fetcher, store: OfflineStore, writer: OutboxWriter) -> None:
        self.client = client
        self.fetch = fetch
        self.store = store
        self.writer = writer

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        """Today's appointments (local date); from the cache when the server cannot answer, else empty.
        `WrongPatientError` when the server's answer holds another person's appointment."""
        today = dt.date.today()
        try:
            resources = await self.fetch.appointments(patient_id, today.isoformat())
        except FhirError as exc:
            log.info("appointments not fetched (%s); using the cache", exc.kind)
            cached = self.store.appointments_of(patient_id)
            return [a for a in _appointments(cached) if a.start.astimezone().date() == today or a.start.date() == today]
        try:
            # Another person's appointment among them refuses them all, before any is kept.
            bind_records(resources, Subject(patient_id), "an appointment")
        except WrongPatientError:
            self.writer.audit("lookup", "wrong-patient", patient_id)
            raise
        for resource in resources:
            self.store.save_appointment(patient_id, resource)
        return _appointments(resources)

    async def check_in(self, appointment_id: str) -> CheckInResult:
        resource: dict[str, Any] | None
        try:
            resource = await self.client.get(f"Appointment/{appointment_id}")
        except FhirError as exc:
            if not exc.offline:
                reason = "no such appointment" if exc.kind is FaultKind.NOT_FOUND else exc.describe()
                return CheckInResult(status="failed", message=reason)
            resource = self.store.appointment(appointment_id)
            if resource is None:
                return CheckInResult(status="failed", message=f"{exc.describe()}; the appointment is not cached")
            return self._queue(resource, exc.describe())
        if resource.get("id") != appointment_id:
            # Checking in whatever came back would mark another appointment (perhaps another person's) as arrived.
            return CheckInResult(status="failed", message="the server answered with another appointment")
        if resource.get("status") in ("arrived", "checked-in", "fulfilled"):
            return CheckInResult(status="checked-in", message="already checked in")
        if resource.get("status") in ("cancelled", "noshow", "entered-in-error"):
            return CheckInResult(status="failed", message=f"the appointment is {resource.get('status')}")
        arrived = {**resource, "status": "arrived"}
        patient_id = _subject(resource)
        try:
            await self.client.put(f"Appointment/{appointment_id}", arrived)
        except FhirError as exc:
            if exc.offline:
                return self._queue(resource, exc.describe())
            self.writer.audit("check-in", "failed", patient_id)
            return CheckInResult(status="failed", message=exc.describe())
        if patient_id is not None:
            self.store.save_appointment(patient_id, arrived)
        self.writer.audit("check-in", "success", patient_id)
        return CheckInResult(status="checked-in", message="checked in")

    def _queue(self, resource: dict[str, Any], why: str) -> CheckInResult:
        if not self.writer.keeps_messages:
            return CheckInResult(status="failed", message=f"{why}; no outbox to keep the check-in")
        arrived = {**resource, "status": "arrived"}
        if not self.writer.check_in(arrived):
            return CheckInResult(status="failed", message=f"{why}; the check-in could not be kept")
        patient_id = _subject(resource)
        if patient_id is not None:
            self.store.save_appointment(patient_id, arrived)
        self.writer.audit("check-in", "offline", patient_id)
        return CheckInResult(status="queued", message=f"{why}; the check-in will be sent when the server is back")

    async def prefetch(self, facility_code: str, open_patient: Callable[[str], Awaitable[bool]]) -> PrefetchResult:
        """Referrals addressed to this facility, with each referred patient's summary and today's appointments."""
        try:
            referrals = await self.fetch.referrals_to(facility_code)
        except FhirError as exc:
            return PrefetchResult(message=exc.describe())
        patients = sorted({pid for pid in map(_subject, referrals) if pid is not None})
        gate = asyncio.Semaphore(PREFETCH_CONCURRENCY)
        summaries = 0
        appointments = 0

        async def one(patient_id: str) -> None:
            nonlocal summaries, appointments
            async with gate:
                try:
                    if self.store.clinical and await open_patient(patient_id):
                        summaries += 1
                    appointments += len(await self.appointments_today(patient_id))
                except FhirError as exc:
                    log.info("prefetch of one patient stopped (%s)", exc.kind)
                except WrongPatientError as refused:
                    log.warning("prefetch of one patient refused: %s", refused.message)

        await asyncio.gather(*(one(p) for p in patients))
        return PrefetchResult(
            referrals=len(referrals), appointments=appointments, patients=len(patients), summaries=summaries
        )
