"""Workflow routes: appointments and check-in, referrals to a facility, audit events."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request

from lookup.domain.model import FHIR_ID_PATTERN
from lookup.service.audit import DICOM_SYSTEM
from sandbox.server.auth import Grant, Scope
from sandbox.server.fhir import local_id, searchset
from sandbox.server.http import DEFAULT_COUNT, MAX_COUNT, FhirProblem, FhirResponse, authorized, base_url, page_links
from sandbox.server.http import state_of as _state

router = APIRouter()
Json = dict[str, Any]
_DATE: Final = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2})(?:T[0-9:.+\-Z]*)?$")
Count = Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)]
Offset = Annotated[int, Query(alias="_offset", ge=0, le=10_000_000)]
_INSTANT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
AUDIT_EXAMPLE: Final[Json] = {
    "resourceType": "AuditEvent",
    "type": {"system": DICOM_SYSTEM, "code": "110110", "display": "Patient Record"},
    "recorded": "2025-07-01T08:00:00+07:00",
    "agent": [{"who": {"display": "kiosk-er-1"}, "requestor": True}],
    "source": {"observer": {"display": "kiosk-er-1"}},
    "entity": [{"what": {"reference": "Patient/p1"}}],
}
ResourceId = Annotated[str, Path(pattern=FHIR_ID_PATTERN)]


def _day_range(request: Request, values: list[str]) -> tuple[int | None, int | None]:
    """Day offsets (inclusive) from `date` parameters such as `2025-07-01` or `ge2025-07-01`."""
    low: int | None = None
    high: int | None = None
    for value in values:
        match = _DATE.match(value)
        try:
            day = dt.date.fromisoformat(match.group(2)) if match else None
        except ValueError:
            day = None
        if match is None or day is None:
            raise FhirProblem(400, "invalid", "date must be YYYY-MM-DD, optionally prefixed eq/ge/le/gt/lt")
        offset = _state(request).day_offset(day)
        prefix = match.group(1) or "eq"
        if prefix in ("eq", "ge", "gt"):
            start = offset + (1 if prefix == "gt" else 0)
            low = start if low is None else max(low, start)
        if prefix in ("eq", "le", "lt"):
            end = offset - (1 if prefix == "lt" else 0)
            high = end if high is None else min(high, end)
    return low, high


@router.get("/Appointment", response_class=FhirResponse, summary="A patient's appointments, by date")
def search_appointments(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.APPOINTMENT_READ))],
    patient: Annotated[str, Query(max_length=200)],
    date: Annotated[list[str] | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    state = _state(request)
    stored = state.store.patient(local_id(patient, "Patient"))
    found: list[Json] = []
    if stored is not None:
        low, high = _day_range(request, date or [])
        for _, _, current, number in state.store.appointments_of(stored.rid, low, high):
            resource = state.appointment(stored, number, current)
            if resource is not None and (status is None or resource["status"] in status.split(",")):
                found.append(resource)
    self_url, next_url = page_links(request, count, offset, len(found))
    page = found[offset : offset + count]
    return FhirResponse(searchset(page, self_url=self_url, next_url=next_url, total=len(found), base=base_url(request)))


def _appointment(request: Request, appointment_id: str) -> Json:
    state = _state(request)
    row = state.store.appointment(appointment_id)
    patient = state.store.patient_by_rid(row[0]) if row else None
    resource = state.appointment(patient, row[3], row[2]) if row and patient else None
    if resource is None:
        raise FhirProblem(404, "not-found", "no appointment with this id")
    return resource


@router.get("/Appointment/{appointment_id}", response_class=FhirResponse, summary="Read one appointment")
def read_appointment(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.APPOINTMENT_READ))],
    appointment_id: ResourceId,
) -> FhirResponse:
    return FhirResponse(_appointment(request, appointment_id))


@router.put("/Appointment/{appointment_id}", response_class=FhirResponse, summary="Check in: set status `arrived`")
def update_appointment(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.APPOINTMENT_WRITE))],
    appointment_id: ResourceId,
    body: Annotated[Json, Body(examples=[{"resourceType": "Appointment", "status": "arrived"}])],
) -> FhirResponse:
    if body.get("resourceType") != "Appointment":
        raise FhirProblem(422, "invalid", "the body must be an Appointment resource")
    if body.get("id") not in (None, appointment_id):
        raise FhirProblem(400, "invalid", "the Appointment id differs from the URL")
    current = _appointment(request, appointment_id)
    wanted = body.get("status")
    if wanted == current["status"]:
        return FhirResponse(current)  # a repeated check-in changes nothing
    if wanted != "arrived":
        raise FhirProblem(422, "business-rule", "only a check-in (status `arrived`) can be recorded here")
    if current["status"] != "booked":
        raise FhirProblem(409, "conflict", f"an appointment that is {current['status']} cannot be checked in")
    _state(request).store.set_appointment_status(appointment_id, "arrived")
    return FhirResponse(_appointment(request, appointment_id))


@router.get("/ServiceRequest", response_class=FhirResponse, summary="Referrals, by performer, status or patient")
def search_referrals(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.ALL_READ))],
    performer: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    patient: Annotated[str | None, Query(max_length=200)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    state = _state(request)
    rid: int | None = None
    if patient is not None:
        stored = state.store.patient(local_id(patient, "Patient"))
        rid = stored.rid if stored else -1
    target = local_id(performer, "Organization") if performer else None
    rows, total = state.store.service_requests(target, status, rid, count, offset)
    found = []
    for request_id, owner, current in rows:
        stored = state.store.patient_by_rid(owner)
        resource = state.service_request(stored, request_id, current) if stored else None
        if resource is not None:
            found.append(resource)
    self_url, next_url = page_links(request, count, offset, total)
    return FhirResponse(searchset(found, self_url=self_url, next_url=next_url, total=total, base=base_url(request)))


@router.get("/ServiceRequest/{request_id}", response_class=FhirResponse, summary="Read one referral")
def read_referral(
    request: Request, grant: Annotated[Grant, Depends(authorized(Scope.ALL_READ))], request_id: ResourceId
) -> FhirResponse:
    state = _state(request)
    owner = state.store.service_request_owner(request_id)
    stored = state.store.patient_by_rid(owner[0]) if owner else None
    resource = state.service_request(stored, request_id, owner[1]) if stored and owner else None
    if resource is None:
        raise FhirProblem(404, "not-found", "no referral with this id")
    return FhirResponse(resource)


def _audit_problem(event: Json) -> str | None:
    """What makes an AuditEvent unacceptable (its required elements, R4), or None."""
    recorded = event.get("recorded")
    if not isinstance(recorded, str) or not _INSTANT.match(recorded):
        return "an AuditEvent needs `recorded`, an instant"
    if not isinstance(event.get("type"), dict):
        return "an AuditEvent needs a `type` Coding"
    agents = event.get("agent")
    if not isinstance(agents, list) or not agents or not all(isinstance(a, dict) for a in agents):
        return "an AuditEvent needs at least one `agent`"
    if not isinstance(event.get("source"), dict):
        return "an AuditEvent needs a `source`"
    entities = event.get("entity", [])
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        return "AuditEvent.entity must be a list of objects"
    return None


def _audit_patient(event: Json) -> str | None:
    for entity in event.get("entity") or []:
        what = entity.get("what") if isinstance(entity, dict) else None
        reference = what.get("reference") if isinstance(what, dict) else None
        if isinstance(reference, str) and "Patient/" in reference:
            return local_id(reference, "Patient")
    return None


@router.put("/AuditEvent/{event_id}", response_class=FhirResponse, summary="Store an audit event (idempotent)")
def put_audit_event(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.AUDIT_WRITE))],
    event_id: ResourceId,
    body: Annotated[Json, Body(examples=[AUDIT_EXAMPLE])],
) -> FhirResponse:
    if body.get("resourceType") != "AuditEvent":
        raise FhirProblem(422, "invalid", "the body must be an AuditEvent resource")
    if body.get("id") not in (None, event_id):
        raise FhirProblem(400, "invalid", "the AuditEvent id differs from the URL")
    problem = _audit_problem(body)
    if problem is not None:
        raise FhirProblem(422, "required", problem)
    event = dict(body, id=event_id)
    store = _state(request).store
    created = store.put_audit(event_id, _audit_patient(event), str(event["recorded"]), orjson.dumps(event))
    stored = store.audit(event_id) or event
    location = f"{base_url(request)}/AuditEvent/{event_id}"
    return FhirResponse(stored, status_code=201 if created else 200, headers={"Location": location})


@router.get("/AuditEvent/{event_id}", response_class=FhirResponse, summary="Read one audit event")
def read_audit_event(
    request: Request, grant: Annotated[Grant, Depends(authorized(Scope.ALL_READ))], event_id: ResourceId
) -> FhirResponse:
    event = _state(request).store.audit(event_id)
    if event is None:
        raise FhirProblem(404, "not-found", "no audit event with this id")
    return FhirResponse(event)


@router.get("/AuditEvent", response_class=FhirResponse, summary="Audit events about a patient")
def search_audit_events(
    request: Request,
    grant: Annotated[Grant, Depends(authorized(Scope.ALL_READ))],
    patient: Annotated[str | None, Query(max_length=200)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    who = local_id(patient, "Patient") if patient else None
    events, total = _state(request).store.audits_of(who, count, offset)
    self_url, next_url = page_links(request, count, offset, total)
    return FhirResponse(searchset(events, self_url=self_url, next_url=next_url, total=total, base=base_url(request)))
