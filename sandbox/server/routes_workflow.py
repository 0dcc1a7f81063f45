"""Workflow routes: appointments and check-in, referrals to a facility, audit events.

Each route passes the policy's gate (`sandbox.server.policy.permitted`) and applies the limits it is handed: today's
window, clinical text only where the role and the patient's consent allow, a reception desk's own facility, and the
kiosk's audit trail kept write-once under the token's name."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request

from lookup.domain.model import FHIR_ID_PATTERN
from lookup.service.audit import DICOM_SYSTEM
from sandbox.server.audit import client_trail, same_event, trail_patient
from sandbox.server.audit_search import AuditQuery
from sandbox.server.fhir import local_id, operation_outcome, searchset
from sandbox.server.http import DEFAULT_COUNT, MAX_COUNT, FhirProblem, FhirResponse, base_url, page_links
from sandbox.server.http import state_of as _state
from sandbox.server.policy import (
    CLIENT_AUDIT_MAX_BYTES,
    Caller,
    Limit,
    Operation,
    Resource,
    appointment_view,
    permitted,
    referral_view,
)
from sandbox.server.storage import StoredPatient
from sandbox.synthetic.departments import department_for

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


def _appointments_of(caller: Caller, patient: StoredPatient, low: int | None, high: int | None) -> list[Json]:
    state = caller.state
    found: list[Json] = []
    for _, _, current, number in state.store.appointments_of(patient.rid, low, high):
        resource = state.appointment(patient, number, current)
        if resource is not None:
            found.append(resource)
    return found


def _shown(caller: Caller, patient: StoredPatient, resource: Json) -> Json:
    """The appointment as this caller may see it."""
    return resource if caller.shows_clinical_text(patient.consent) else appointment_view(resource)


def _detail(caller: Caller, patient: StoredPatient) -> str:
    return "clinical" if caller.shows_clinical_text(patient.consent) else "redacted"


@router.get("/Appointment", response_class=FhirResponse, summary="A patient's appointments, by date")
def search_appointments(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.APPOINTMENT, Operation.SEARCH))],
    patient: Annotated[str, Query(max_length=200)],
    date: Annotated[list[str] | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    stored = caller.state.store.patient(local_id(patient, "Patient"))
    found: list[Json] = []
    if stored is not None:
        low, high = caller.day_window(*_day_range(request, date or []))
        wanted = status.split(",") if status is not None else None
        found = [
            _shown(caller, stored, r)
            for r in _appointments_of(caller, stored, low, high)
            if wanted is None or r["status"] in wanted
        ]
        caller.audit([stored.id], f"{_detail(caller, stored)}: {len(found)} appointments")
    self_url, next_url = page_links(request, count, offset, len(found))
    page = found[offset : offset + count]
    return FhirResponse(searchset(page, self_url=self_url, next_url=next_url, total=len(found), base=base_url(request)))


def _appointment(caller: Caller, appointment_id: str) -> tuple[Json, StoredPatient]:
    """One appointment and its patient; 404 when unknown, 403 outside the caller's day window."""
    state = caller.state
    row = state.store.appointment(appointment_id)
    patient = state.store.patient_by_rid(row[0]) if row else None
    resource = state.appointment(patient, row[3], row[2]) if row and patient else None
    if resource is None or row is None or patient is None:
        raise FhirProblem(404, "not-found", "no appointment with this id")
    caller.check_day(row[1])
    return resource, patient


@router.get("/Appointment/{appointment_id}", response_class=FhirResponse, summary="Read one appointment")
def read_appointment(
    caller: Annotated[Caller, Depends(permitted(Resource.APPOINTMENT, Operation.READ))], appointment_id: ResourceId
) -> FhirResponse:
    resource, patient = _appointment(caller, appointment_id)
    caller.audit([patient.id], _detail(caller, patient))
    return FhirResponse(_shown(caller, patient, resource))


@router.put("/Appointment/{appointment_id}", response_class=FhirResponse, summary="Check in: set status `arrived`")
def update_appointment(
    caller: Annotated[Caller, Depends(permitted(Resource.APPOINTMENT, Operation.UPDATE))],
    appointment_id: ResourceId,
    body: Annotated[Json, Body(examples=[{"resourceType": "Appointment", "status": "arrived"}])],
) -> FhirResponse:
    if body.get("resourceType") != "Appointment":
        raise FhirProblem(422, "invalid", "the body must be an Appointment resource")
    if body.get("id") not in (None, appointment_id):
        raise FhirProblem(400, "invalid", "the Appointment id differs from the URL")
    current, patient = _appointment(caller, appointment_id)
    wanted = body.get("status")
    if wanted == current["status"]:
        caller.audit([patient.id], "check-in: already recorded")
        return FhirResponse(_shown(caller, patient, current))  # a repeated check-in changes nothing
    if wanted != "arrived":
        raise FhirProblem(422, "business-rule", "only a check-in (status `arrived`) can be recorded here")
    if current["status"] != "booked":
        raise FhirProblem(409, "conflict", f"an appointment that is {current['status']} cannot be checked in")
    caller.state.store.set_appointment_status(appointment_id, "arrived")
    # The desk gives the arrival the next queue number of the appointment's department today, and a room.
    department = department_for(appointment_id)
    day = caller.state.day_offset(dt.date.today())
    caller.state.store.add_visit(f"Appointment/{appointment_id}", patient.rid, day, department.code, caller.facility)
    caller.audit([patient.id], "check-in: arrived")
    arrived, _ = _appointment(caller, appointment_id)
    return FhirResponse(_shown(caller, patient, arrived))


def _referral_shown(caller: Caller, patient: StoredPatient, resource: Json) -> Json:
    return resource if caller.shows_clinical_text(patient.consent) else referral_view(resource)


def _addressed_to(resource: Json) -> str | None:
    performers = resource.get("performer") or []
    identifier = performers[0].get("identifier") if performers and isinstance(performers[0], dict) else None
    value = identifier.get("value") if isinstance(identifier, dict) else None
    return value if isinstance(value, str) else None


@router.get("/ServiceRequest", response_class=FhirResponse, summary="Referrals, by performer, status or patient")
def search_referrals(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.SERVICE_REQUEST, Operation.SEARCH))],
    performer: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    patient: Annotated[str | None, Query(max_length=200)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    state = caller.state
    rid: int | None = None
    if patient is not None:
        stored = state.store.patient(local_id(patient, "Patient"))
        rid = stored.rid if stored else -1
    target = local_id(performer, "Organization") if performer else None
    if caller.under(Limit.OWN_FACILITY):
        if caller.facility is None:
            raise caller.refuse(403, "forbidden", "this client works for no facility: no referral is addressed to it")
        if target is not None and target != caller.facility:
            raise caller.refuse(403, "forbidden", "referrals to another facility are not shown to this client")
        target = caller.facility
    rows, total = state.store.service_requests(target, status, rid, count, offset)
    found: list[Json] = []
    shown: dict[str, list[str]] = {"clinical": [], "redacted": []}
    for request_id, owner, current in rows:
        stored = state.store.patient_by_rid(owner)
        resource = state.service_request(stored, request_id, current) if stored else None
        if resource is not None and stored is not None:
            found.append(_referral_shown(caller, stored, resource))
            shown[_detail(caller, stored)].append(stored.id)
    for detail, patients in shown.items():
        if patients:
            caller.audit(patients, f"{detail} referral")
    self_url, next_url = page_links(request, count, offset, total)
    return FhirResponse(searchset(found, self_url=self_url, next_url=next_url, total=total, base=base_url(request)))


@router.get("/ServiceRequest/{request_id}", response_class=FhirResponse, summary="Read one referral")
def read_referral(
    caller: Annotated[Caller, Depends(permitted(Resource.SERVICE_REQUEST, Operation.READ))], request_id: ResourceId
) -> FhirResponse:
    state = caller.state
    owner = state.store.service_request_owner(request_id)
    stored = state.store.patient_by_rid(owner[0]) if owner else None
    resource = state.service_request(stored, request_id, owner[1]) if stored and owner else None
    if resource is None or stored is None:
        raise FhirProblem(404, "not-found", "no referral with this id")
    if caller.under(Limit.OWN_FACILITY) and _addressed_to(resource) != caller.facility:
        raise caller.refuse(
            403, "forbidden", "referrals addressed to another facility are not shown to this client", patient=stored.id
        )
    caller.audit([stored.id], f"{_detail(caller, stored)} referral")
    return FhirResponse(_referral_shown(caller, stored, resource))


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


def _too_large(request: Request, body: Json) -> bool:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > CLIENT_AUDIT_MAX_BYTES:
        return True
    return len(orjson.dumps(body)) > CLIENT_AUDIT_MAX_BYTES


@router.put("/AuditEvent/{event_id}", response_class=FhirResponse, summary="Store the kiosk's own audit event (once)")
def put_audit_event(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.AUDIT_EVENT, Operation.UPDATE))],
    event_id: ResourceId,
    body: Annotated[Json, Body(examples=[AUDIT_EXAMPLE])],
) -> FhirResponse:
    if _too_large(request, body):
        raise caller.refuse(413, "too-long", f"a kiosk's AuditEvent is at most {CLIENT_AUDIT_MAX_BYTES // 1024} KiB")
    if body.get("resourceType") != "AuditEvent":
        raise FhirProblem(422, "invalid", "the body must be an AuditEvent resource")
    if body.get("id") not in (None, event_id):
        raise FhirProblem(400, "invalid", "the AuditEvent id differs from the URL")
    problem = _audit_problem(body)
    if problem is not None:
        raise FhirProblem(422, "required", problem)
    event = client_trail(caller.grant, event_id, body)
    store = caller.state.store
    location = {"Location": f"{base_url(request)}/AuditEvent/{event_id}"}
    if store.put_audit(event_id, trail_patient(event), str(event["recorded"]), orjson.dumps(event)):
        return FhirResponse(operation_outcome("informational", "stored", "information"), 201, location)
    stored = store.audit(event_id)
    if stored is not None and same_event(stored, event):
        # A retry of the same event (the outbox after a lost acknowledgement): done, and nothing is echoed.
        return FhirResponse(operation_outcome("informational", "already stored", "information"), 200, location)
    raise caller.refuse(409, "conflict", "another AuditEvent is stored under this id; stored events never change")


@router.get("/AuditEvent/{event_id}", response_class=FhirResponse, summary="Read one audit event")
def read_audit_event(
    caller: Annotated[Caller, Depends(permitted(Resource.AUDIT_EVENT, Operation.READ))], event_id: ResourceId
) -> FhirResponse:
    event = caller.state.store.audit(event_id)
    if event is None:
        raise FhirProblem(404, "not-found", "no audit event with this id")
    return FhirResponse(event)


def _tokens(name: str) -> Any:
    """A repeatable token parameter (`system|code`, or several comma-separated)."""
    return Query(alias=name, max_length=400)


@router.get("/AuditEvent", response_class=FhirResponse, summary="Search or count the audit log")
def search_audit_events(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.AUDIT_EVENT, Operation.SEARCH))],
    patient: Annotated[str | None, Query(max_length=200)] = None,
    date: Annotated[list[str] | None, Query(max_length=40)] = None,
    tag: Annotated[list[str] | None, _tokens("_tag")] = None,
    kind: Annotated[list[str] | None, _tokens("type")] = None,
    subtype: Annotated[list[str] | None, _tokens("subtype")] = None,
    agent: Annotated[list[str] | None, _tokens("agent")] = None,
    summary_mode: Annotated[str | None, Query(alias="_summary", pattern="^(count|false)$")] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    """`sandbox.server.audit_search` says what each parameter selects."""
    who = local_id(patient, "Patient") if patient else None
    query = AuditQuery.of(patient=who, dates=date, tags=tag, types=kind, subtypes=subtype, agents=agent)
    where, params = query.where()
    store = caller.state.store
    if query.by_content:
        found = [event for event in store.audits_all(where, params) if query.matches(event)]
        events, total = found[offset : offset + count], len(found)
    else:
        events, total = store.audits_where(where, params, 0 if caller.operation is Operation.COUNT else count, offset)
    if caller.operation is Operation.COUNT:
        return FhirResponse(searchset([], self_url=str(request.url), total=total, base=base_url(request)))
    self_url, next_url = page_links(request, count, offset, total)
    return FhirResponse(searchset(events, self_url=self_url, next_url=next_url, total=total, base=base_url(request)))
