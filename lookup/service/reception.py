"""Reception and lobby: today's appointments, check-in (idempotent, queued when offline), prefetch of what is
addressed to this facility, and delivery of the outbox (audit events and queued check-ins).

A check-in is a `PUT Appointment/{id}` of the whole resource with status `arrived`: sending it twice is harmless,
so the outbox may deliver it again after a crash without harm.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import ValidationError

from lookup.domain.model import Appointment
from lookup.fhir.documents import appointment_of
from lookup.service.audit import CHECK_IN_KIND, Action, Delivery, Result
from lookup.service.cache_protocol import Outbox
from lookup.service.fetch import Fetcher
from lookup.service.offline_store import OfflineStore
from lookup.service.results import CheckInResult, PrefetchResult
from lookup.transport.client import FhirClient
from lookup.transport.faults import FaultKind, FhirError

log = logging.getLogger(__name__)
PREFETCH_CONCURRENCY = 4


class AuditSink(Protocol):
    """Where an action's audit event goes (the service's outbox writer)."""

    def __call__(
        self, action: Action, result: Result, patient_id: str | None, glass: bool = False, reason: str | None = None
    ) -> None: ...


def _subject(resource: dict[str, Any]) -> str | None:
    for participant in resource.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        ref = actor.get("reference") if isinstance(actor, dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.removeprefix("Patient/")
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
    """The reception/lobby half of the service, sharing its client, cache and outbox."""

    def __init__(
        self, client: FhirClient, fetch: Fetcher, store: OfflineStore, outbox: Outbox | None, audit: AuditSink
    ) -> None:
        self.client = client
        self.fetch = fetch
        self.store = store
        self.outbox = outbox
        self.audit = audit
        self.queued = 0
        self.delivered = 0

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        """Today's appointments (local date); from the cache when the server cannot answer, else empty."""
        today = dt.date.today()
        try:
            resources = await self.fetch.appointments(patient_id, today.isoformat())
        except FhirError as exc:
            log.info("appointments not fetched (%s); using the cache", exc.kind)
            cached = self.store.appointments_of(patient_id)
            return [a for a in _appointments(cached) if a.start.astimezone().date() == today or a.start.date() == today]
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
            self.audit("check-in", "failed", patient_id)
            return CheckInResult(status="failed", message=exc.describe())
        if patient_id is not None:
            self.store.save_appointment(patient_id, arrived)
        self.audit("check-in", "success", patient_id)
        return CheckInResult(status="checked-in", message="checked in")

    def _queue(self, resource: dict[str, Any], why: str) -> CheckInResult:
        if self.outbox is None:
            return CheckInResult(status="failed", message=f"{why}; no outbox to keep the check-in")
        arrived = {**resource, "status": "arrived"}
        delivery = Delivery(path=f"Appointment/{resource['id']}", body=arrived)
        try:
            self.outbox.append(CHECK_IN_KIND, f"check-in:{resource['id']}", delivery.encode())
        except Exception as exc:
            log.warning("could not queue a check-in (%s)", type(exc).__name__)
            return CheckInResult(status="failed", message=f"{why}; the check-in could not be kept")
        self.queued += 1
        patient_id = _subject(resource)
        if patient_id is not None:
            self.store.save_appointment(patient_id, arrived)
        self.audit("check-in", "offline", patient_id)
        return CheckInResult(status="queued", message=f"{why}; the check-in will be sent when the server is back")

    async def flush(self, batch: int = 50) -> int:
        """Deliver queued messages; acknowledged ones leave the outbox, refused ones fail with their reason."""
        if self.outbox is None:
            return 0
        delivered = 0
        while True:
            entries = list(self.outbox.claim(batch))
            if not entries:
                return delivered
            for position, entry in enumerate(entries):
                try:
                    delivery = Delivery.decode(entry.payload)
                except (ValidationError, ValueError):
                    self.outbox.fail(entry.id, "the queued message is unreadable", retry=False)
                    continue
                try:
                    await self.client.put(delivery.path, delivery.body)
                except FhirError as exc:
                    if exc.offline:
                        # The server is gone again: what is left of the batch waits for the next flush.
                        for rest in entries[position:]:
                            self.outbox.fail(rest.id, exc.describe(), retry=True)
                        return delivered
                    self.outbox.fail(entry.id, exc.describe(), retry=False)
                    continue
                self.outbox.acknowledge(entry.id)
                delivered += 1
                self.delivered += 1
            if len(entries) < batch:
                return delivered

    async def prefetch(self, facility_code: str, open_patient: Callable[[str], Awaitable[bool]]) -> PrefetchResult:
        """Referrals addressed to this facility, with each referred patient's summary and today's appointments."""
        try:
            referrals = await self.fetch.referrals_to(facility_code)
        except FhirError as exc:
            return PrefetchResult(message=exc.describe())
        patients = sorted(
            {
                str(r["subject"]["reference"]).removeprefix("Patient/")
                for r in referrals
                if isinstance(r.get("subject"), dict) and str(r["subject"].get("reference", "")).startswith("Patient/")
            }
        )
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

        await asyncio.gather(*(one(p) for p in patients))
        return PrefetchResult(
            referrals=len(referrals), appointments=appointments, patients=len(patients), summaries=summaries
        )
