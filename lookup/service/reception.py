"""Reception and lobby: today's appointments, check-in (idempotent, queued in the outbox when offline), walk-ins,
and prefetch of what is addressed to this facility.

A check-in is a `PUT Appointment/{id}` of the whole resource with status `arrived`: sending it twice is harmless,
so the outbox may deliver it again after a crash without harm. A walk-in (no appointment today) is a
`PUT Encounter/walkin-{key}` of an Encounter `arrived`, its id made from an idempotency key for the same reason; the
server answers both with a queue number and a room (`lookup.fhir.appointments.queue_of`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from lookup.domain.model import Appointment
from lookup.domain.visits import (
    CHIEF_COMPLAINTS,
    COMPLAINT_SYSTEM,
    DEPARTMENT_SYSTEM,
    WALK_IN_ID_PREFIX,
    CheckInResult,
    Department,
    Ticket,
    WalkInResult,
)
from lookup.fhir.appointments import is_redacted, queue_of, time_place_department
from lookup.fhir.bundles import search_entries
from lookup.fhir.documents import appointment_of
from lookup.fhir.references import references, target
from lookup.service.binding import Subject, WrongPatientError, bind_records
from lookup.service.fetch import Fetcher
from lookup.service.offline_store import OfflineStore
from lookup.service.outbox_writer import OutboxWriter
from lookup.service.results import PrefetchResult
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


def _ticket(resource: dict[str, Any]) -> Ticket | None:
    """The queue number and room an answer carries, if the server gave them."""
    found = queue_of(resource)
    if found is None:
        return None
    try:
        return Ticket(queue_number=found[0], room=found[1], expires=found[2])
    except ValidationError:
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

    def __init__(
        self, client: FhirClient, fetch: Fetcher, store: OfflineStore, writer: OutboxWriter, *, lobby: bool = False
    ) -> None:
        self.client = client
        self.fetch = fetch
        self.store = store
        self.writer = writer
        self.lobby = lobby
        """The lobby keeps and shows appointments as time, place and department only, whatever it is sent."""

    def _visible(self, resources: list[dict[str, Any]], *, cached: bool = False) -> list[dict[str, Any]]:
        """What this kiosk may keep and show: in the lobby, time, place and department only; at reception, the same
        for every appointment of a patient once the server withheld the clinical text of any (no consent), and for
        every copy read from the cache: consent is known only online, and may have been withdrawn since (or the
        copy kept by another kiosk)."""
        if self.lobby or cached or any(is_redacted(r) for r in resources):
            return [time_place_department(r) for r in resources]
        return resources

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        """Today's appointments (local date); from the cache when the server cannot answer, else empty.
        `WrongPatientError` when the server's answer holds another person's appointment."""
        today = dt.date.today()
        try:
            resources = await self.fetch.appointments(patient_id, today.isoformat())
        except FhirError as exc:
            log.info("appointments not fetched (%s); using the cache", exc.kind)
            cached = self._visible(self.store.appointments_of(patient_id), cached=True)
            return [a for a in _appointments(cached) if a.start.astimezone().date() == today or a.start.date() == today]
        try:
            # Another person's appointment among them refuses them all, before any is kept.
            bind_records(resources, Subject(patient_id), "an appointment")
        except WrongPatientError:
            self.writer.audit("lookup", "wrong-patient", patient_id)
            raise
        resources = self._visible(resources)
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
            return CheckInResult(status="checked-in", message="already checked in", ticket=_ticket(resource))
        if resource.get("status") in ("cancelled", "noshow", "entered-in-error"):
            return CheckInResult(status="failed", message=f"the appointment is {resource.get('status')}")
        arrived = {**resource, "status": "arrived"}
        patient_id = _subject(resource)
        sent = await self.writer.send_check_in(arrived)
        if sent.fault is not None:
            if sent.kept:
                return self._queued(resource, sent.fault.describe())
            if sent.fault.offline:
                return self._queue(resource, sent.fault.describe())
            self.writer.audit("check-in", "failed", patient_id)
            return CheckInResult(status="failed", message=sent.fault.describe())
        answer = sent.answer or {}
        if patient_id is not None:
            self.store.save_appointment(patient_id, self._visible([arrived])[0])
        self.writer.audit("check-in", "success", patient_id)
        return CheckInResult(status="checked-in", message="checked in", ticket=_ticket(answer))

    def _queue(self, resource: dict[str, Any], why: str) -> CheckInResult:
        if not self.writer.keeps_messages:
            return CheckInResult(status="failed", message=f"{why}; no outbox to keep the check-in")
        if not self.writer.check_in({**resource, "status": "arrived"}):
            return CheckInResult(status="failed", message=f"{why}; the check-in could not be kept")
        return self._queued(resource, why)

    def _queued(self, resource: dict[str, Any], why: str) -> CheckInResult:
        """The check-in waits in the outbox: the cached appointment says it arrived, and the audit says offline."""
        arrived = {**resource, "status": "arrived"}
        patient_id = _subject(resource)
        if patient_id is not None:
            self.store.save_appointment(patient_id, self._visible([arrived])[0])
        self.writer.audit("check-in", "offline", patient_id)
        return CheckInResult(status="queued", message=f"{why}; the check-in will be sent when the server is back")

    async def departments(self) -> list[Department]:
        """The departments a walk-in may be sent to, as the server lists them (kept for offline walk-ins); from the
        cache when the server cannot answer; empty when neither can say."""
        try:
            bundle = await self.client.get("HealthcareService")
        except FhirError as exc:
            log.info("departments not fetched (%s); using the cache", exc.kind)
            rows = self.store.departments()
        else:
            rows = [
                {"code": s["id"], "name": s["name"]}
                for s in search_entries(bundle, "HealthcareService")
                if isinstance(s.get("id"), str) and isinstance(s.get("name"), str) and s.get("active", True)
            ]
            self.store.save_departments(rows)
        found: list[Department] = []
        for row in rows:
            try:
                found.append(Department.model_validate(row))
            except ValidationError:
                continue
        return found

    async def walk_in(
        self, patient_id: str, department: str, complaint: str | None = None, *, key: str | None = None
    ) -> WalkInResult:
        """Check in a patient who has no appointment today: the server records an Encounter `arrived` in the
        department and answers with a queue number and room. `key` makes it idempotent (a retry with the same key is
        the same visit); offline, the walk-in waits in the outbox and the queue number is given at the desk. The
        lobby sends no chief complaint (it is clinical), whatever it is given."""
        if complaint is not None and complaint not in CHIEF_COMPLAINTS:
            return WalkInResult(status="failed", message="not a chief complaint of the list")
        key = key or uuid.uuid4().hex
        encounter: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": f"{WALK_IN_ID_PREFIX}{key}",
            "status": "arrived",
            "subject": {"reference": f"Patient/{patient_id}"},
            "serviceType": {"coding": [{"system": DEPARTMENT_SYSTEM, "code": department}]},
        }
        if complaint is not None and not self.lobby:
            coding = {"system": COMPLAINT_SYSTEM, "code": complaint, "display": CHIEF_COMPLAINTS[complaint]}
            encounter["reasonCode"] = [{"coding": [coding]}]
        sent = await self.writer.send_check_in(encounter)
        exc = sent.fault
        if exc is not None:
            if not exc.offline and not sent.kept:
                self.writer.audit("check-in", "failed", patient_id)
                return WalkInResult(status="failed", message=exc.describe(), key=key)
            if not sent.kept and not self.writer.check_in(encounter):
                return WalkInResult(
                    status="failed", message=f"{exc.describe()}; the walk-in could not be kept", key=key
                )
            self.writer.audit("check-in", "offline", patient_id)
            return WalkInResult(
                status="queued", message=f"{exc.describe()}; the queue number is given at the desk", key=key
            )
        answer = sent.answer or {}
        if _subject(answer) not in (None, patient_id):
            return WalkInResult(status="failed", message="the server answered about another patient", key=key)
        self.writer.audit("check-in", "success", patient_id)
        return WalkInResult(status="checked-in", message="checked in", ticket=_ticket(answer), key=key)

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
