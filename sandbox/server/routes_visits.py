"""Arrivals: the departments a desk sends people to, walk-ins without an appointment, and queue numbers.

A walk-in is an Encounter with status `arrived` (class AMB, the department as its `serviceType`, at reception a
chief complaint as its `reasonCode`), created by `PUT Encounter/walkin-{key}`: the kiosk chooses the id from an
idempotency key, so a retry (or the outbox delivering again after a lost answer) names the same visit and gets the
same queue number, never a second one. Each arrival, a walk-in or a checked-in appointment, is given the next queue
number of its department that day (`K03-014`, an identifier of `QUEUE_SYSTEM` whose period ends with the day) and a
consulting room of that department (the Encounter's `location`, the Appointment's Location participant).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request

from lookup.domain.model import FHIR_ID_PATTERN
from lookup.domain.visits import CHIEF_COMPLAINTS, COMPLAINT_SYSTEM, DEPARTMENT_SYSTEM
from lookup.fhir.appointments import REDACTED
from sandbox.server.fhir import local_id, searchset
from sandbox.server.http import DEFAULT_COUNT, MAX_COUNT, FhirProblem, FhirResponse, base_url, page_links
from sandbox.server.policy import Caller, Limit, Operation, Resource, permitted
from sandbox.server.queue import TZ, queue_identifier, room_of
from sandbox.synthetic.departments import DEPARTMENTS, DEPARTMENTS_BY_CODE, Department, coded

router = APIRouter()
Json = dict[str, Any]
ResourceId = Annotated[str, Path(pattern=FHIR_ID_PATTERN)]
WALK_IN_EXAMPLE: Final[Json] = {
    "resourceType": "Encounter",
    "status": "arrived",
    "subject": {"reference": "Patient/p1"},
    "serviceType": {"coding": [{"system": DEPARTMENT_SYSTEM, "code": "K01"}]},
    "reasonCode": [{"coding": [{"system": COMPLAINT_SYSTEM, "code": "fever"}]}],
}


def _department(concept: object) -> Department | None:
    concepts = concept if isinstance(concept, list) else [concept]
    for item in concepts:
        for coding in (item or {}).get("coding") or [] if isinstance(item, dict) else []:
            if isinstance(coding, dict) and coding.get("system") == DEPARTMENT_SYSTEM:
                return DEPARTMENTS_BY_CODE.get(str(coding.get("code")))
    return None


def _complaint(reasons: object) -> str | None:
    """The chief complaint's code (None when there is none); 422 unless it is one coding of the list, no free text."""
    if reasons in (None, []):
        return None
    if isinstance(reasons, list) and all(isinstance(r, dict) and "text" not in r for r in reasons):
        codings = [c for r in reasons for c in r.get("coding") or [] if isinstance(c, dict)]
        code = codings[0].get("code") if len(codings) == 1 else None
        if codings and codings[0].get("system") == COMPLAINT_SYSTEM and code in CHIEF_COMPLAINTS:
            return str(code)
    raise FhirProblem(422, "invalid", f"a chief complaint is one coding of {COMPLAINT_SYSTEM}, from its list")


@router.get("/HealthcareService", response_class=FhirResponse, summary="The departments a desk sends people to")
def search_departments(
    request: Request, caller: Annotated[Caller, Depends(permitted(Resource.HEALTHCARE_SERVICE, Operation.SEARCH))]
) -> FhirResponse:
    found = [
        {
            "resourceType": "HealthcareService",
            "id": d.code,
            "active": True,
            "name": d.name,
            "specialty": [coded(d)],
            "location": [{"display": room} for room in d.rooms],
        }
        for d in DEPARTMENTS
    ]
    return FhirResponse(
        searchset(found, self_url=str(request.url), next_url=None, total=len(found), base=base_url(request))
    )


@router.put("/Encounter/{encounter_id}", response_class=FhirResponse, summary="A walk-in arrives (idempotent by id)")
def put_walk_in(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.ENCOUNTER, Operation.UPDATE))],
    encounter_id: ResourceId,
    body: Annotated[Json, Body(examples=[WALK_IN_EXAMPLE])],
) -> FhirResponse:
    if body.get("resourceType") != "Encounter":
        raise FhirProblem(422, "invalid", "the body must be an Encounter resource")
    if body.get("id") not in (None, encounter_id):
        raise FhirProblem(400, "invalid", "the Encounter id differs from the URL")
    if body.get("status") != "arrived":
        raise FhirProblem(422, "business-rule", "only an arrival (status `arrived`) can be recorded here")
    subject = body.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    patient = caller.state.store.patient(local_id(reference, "Patient")) if isinstance(reference, str) else None
    if patient is None:
        raise FhirProblem(422, "invalid", "the walk-in's subject must be a known Patient")
    if patient.resource.get("active") is False:
        # A temporary identity linked to the real patient: a visit recorded under it would stay behind on an undo.
        raise caller.refuse(
            409,
            "conflict",
            "this Patient was replaced by another record: record the walk-in under that one",
            patient=patient.id,
        )
    department = _department(body.get("serviceType"))
    if department is None:
        raise FhirProblem(422, "invalid", "the walk-in's serviceType must name a department of HealthcareService")
    if body.get("reasonCode") not in (None, []) and caller.under(Limit.NO_CLINICAL_TEXT):
        raise caller.refuse(
            403, "forbidden", f"the {caller.role.value} role records no chief complaint", patient=patient.id
        )
    complaint = _complaint(body.get("reasonCode"))
    store = caller.state.store
    ref = f"Encounter/{encounter_id}"
    held = store.visit(ref)
    location = {"Location": f"{base_url(request)}/{ref}"}
    if held is not None:
        if held[0] != patient.rid or held[4] is None:
            raise caller.refuse(409, "conflict", "another visit is recorded under this id", patient=patient.id)
        caller.audit([patient.id], "walk-in: already recorded")
        return FhirResponse(orjson.loads(held[4]), 200, location)
    today = dt.date.today()
    day = caller.state.day_offset(today)
    number = store.add_visit(ref, patient.rid, day, department.code, caller.facility)
    encounter: Json = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": "arrived",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "identifier": [queue_identifier(department, number, today)],
        "subject": {"reference": f"Patient/{patient.id}"},
        "serviceType": coded(department),
        "period": {"start": dt.datetime.now(TZ).isoformat(timespec="seconds")},
        "location": [{"location": {"display": room_of(department, number)}, "status": "active"}],
    }
    if complaint is not None:
        encounter["reasonCode"] = [
            {"coding": [{"system": COMPLAINT_SYSTEM, "code": complaint, "display": CHIEF_COMPLAINTS[complaint]}]}
        ]
    if caller.facility is not None:
        encounter["serviceProvider"] = {"reference": f"Organization/{caller.facility}"}
    store.set_visit_json(ref, orjson.dumps(encounter))
    caller.audit([patient.id], "walk-in: arrived")
    return FhirResponse(encounter, 201, location)


def _without_reason(encounter: Json) -> Json:
    meta = dict(encounter.get("meta") or {})
    meta["security"] = [*(meta.get("security") or []), REDACTED]
    return {**{k: v for k, v in encounter.items() if k != "reasonCode"}, "meta": meta}


@router.get("/Encounter", response_class=FhirResponse, summary="Today's walk-ins at the client's facility")
def search_walk_ins(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.ENCOUNTER, Operation.SEARCH))],
    date: Annotated[str | None, Query(max_length=40)] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)] = DEFAULT_COUNT,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=10_000_000)] = 0,
) -> FhirResponse:
    today = caller.state.day_offset(dt.date.today())
    if date is not None and date.removeprefix("eq") != dt.date.today().isoformat():
        raise caller.refuse(403, "forbidden", f"the {caller.role.value} role sees only today's walk-ins")
    facility = caller.facility if caller.under(Limit.OWN_FACILITY) else None
    if caller.under(Limit.OWN_FACILITY) and facility is None:
        raise caller.refuse(403, "forbidden", "this client works for no facility: no walk-in is recorded at it")
    rows, total = caller.state.store.walk_ins_on(today, facility, count, offset)
    found: list[Json] = []
    for data in rows:
        encounter = orjson.loads(data)
        stored = caller.state.store.patient(local_id(encounter["subject"]["reference"], "Patient"))
        consent = stored is not None and stored.consent
        found.append(encounter if caller.shows_clinical_text(consent) else _without_reason(encounter))
    patients = sorted({local_id(e["subject"]["reference"], "Patient") for e in found})
    if patients:
        caller.audit(patients, f"{len(found)} walk-ins")
    self_url, next_url = page_links(request, count, offset, total)
    return FhirResponse(searchset(found, self_url=self_url, next_url=next_url, total=total, base=base_url(request)))
