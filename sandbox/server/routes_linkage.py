"""Two Patients found to be one person: `POST Linkage`, for the ER and the admin role (`Limit.ONE_PERSON`).

The coordination system holds duplicates: one person registered twice. A staff member reviewing the possible
duplicates a kiosk found decides that two records are one person, and the kiosk sends a Linkage (R4): one item of
type `source` and one `alternate`, each naming a Patient of this server (404 unknown; 400 the same Patient twice;
409 a temporary identity, which `$link-identity` joins to the real patient), and its `author`, the staff member who
decided. The kiosk names them (`author.identifier` in its staff system `urn:kiosk:staff`), having checked their PIN
online or offline, as it names them in its audit trail, since the decision may reach the server later under a token
of nobody; without that the token's staff member is the author, and a Linkage naming nobody is refused (400). The
server's AuditEvent of the create names both Patients, the client that delivered it and the token's staff member.

A pair is linked once: the same two Patients again, either way round, from any kiosk and whoever decided, are
answered 200 with the Linkage already made, never a second one, so a decision the outbox delivers twice (a lost
answer, a retry) leaves one Linkage. The Linkage says the records are one person; merging them is not done here.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Body, Depends, Request

from lookup.domain.model import FHIR_ID
from lookup.service.audit import STAFF_SYSTEM as KIOSK_STAFF_SYSTEM
from sandbox.server.audit import STAFF_SYSTEM
from sandbox.server.auth import Grant
from sandbox.server.fhir import now_instant
from sandbox.server.http import FhirProblem, FhirResponse, base_url
from sandbox.server.policy import Caller, Operation, Resource, permitted
from sandbox.server.routes_identity import temporary_number_of

router = APIRouter()
Json = dict[str, Any]
ITEM_TYPES: Final = ("source", "alternate")
_STAFF_ID: Final = re.compile(r"[\w.@-]{1,64}")
LINKAGE_EXAMPLE: Final[Json] = {
    "resourceType": "Linkage",
    "active": True,
    "author": {"identifier": {"system": KIOSK_STAFF_SYSTEM, "value": "nurse-lan"}},
    "item": [
        {"type": "source", "resource": {"reference": "Patient/p1"}},
        {"type": "alternate", "resource": {"reference": "Patient/p2"}},
    ],
}


def linked_patients(body: Json) -> tuple[str, str]:
    """The ids of the `source` and `alternate` Patients a Linkage names; raises `FhirProblem` saying what is wrong."""
    if body.get("resourceType") != "Linkage":
        raise FhirProblem(400, "invalid", "the body must be a Linkage resource")
    items = body.get("item")
    named: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        resource = item.get("resource") if isinstance(item, dict) else None
        reference = resource.get("reference") if isinstance(resource, dict) else None
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in ITEM_TYPES and isinstance(reference, str) and reference.startswith("Patient/"):
            named.setdefault(str(kind), reference.removeprefix("Patient/"))
    if not isinstance(items, list) or len(items) != 2 or set(named) != set(ITEM_TYPES):
        raise FhirProblem(400, "invalid", "a Linkage names two Patients: one item `source`, one item `alternate`")
    source, alternate = named["source"], named["alternate"]
    if not FHIR_ID.fullmatch(source) or not FHIR_ID.fullmatch(alternate):
        raise FhirProblem(400, "invalid", "each item names a Patient as Patient/{id}")
    if source == alternate:
        raise FhirProblem(400, "invalid", "a Linkage names two different Patients")
    return source, alternate


def decided_by(body: Json, grant: Grant) -> str:
    """The staff member who decided: the one the kiosk names as `author`, else the token's; raises `FhirProblem`."""
    author = body.get("author")
    identifier = author.get("identifier") if isinstance(author, dict) else None
    if isinstance(identifier, dict) and identifier.get("system") in (KIOSK_STAFF_SYSTEM, STAFF_SYSTEM):
        value = identifier.get("value")
        if isinstance(value, str) and _STAFF_ID.fullmatch(value):
            return value
        raise FhirProblem(400, "invalid", "the author's staff id is 1 to 64 letters, digits and . @ _ -")
    if author is not None:
        raise FhirProblem(400, "invalid", f"the author is a staff member, identified in {KIOSK_STAFF_SYSTEM}")
    if grant.staff is not None:
        return grant.staff.staff_id
    raise FhirProblem(400, "invalid", f"a Linkage names the staff member who decided (author in {KIOSK_STAFF_SYSTEM})")


def linkage(source: str, alternate: str, staff_id: str) -> Json:
    """The Linkage the server keeps: the two Patients and the staff member who decided, under a new id."""
    return {
        "resourceType": "Linkage",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "active": True,
        "author": {"identifier": {"system": STAFF_SYSTEM, "value": staff_id}},
        "item": [
            {"type": "source", "resource": {"reference": f"Patient/{source}"}},
            {"type": "alternate", "resource": {"reference": f"Patient/{alternate}"}},
        ],
    }


@router.post("/Linkage", response_class=FhirResponse, status_code=201, summary="Two Patients are one person")
def create_linkage(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.LINKAGE, Operation.CREATE))],
    body: Annotated[Json, Body(examples=[LINKAGE_EXAMPLE])],
) -> FhirResponse:
    try:
        source, alternate = linked_patients(body)
        staff_id = decided_by(body, caller.grant)
    except FhirProblem as problem:
        raise caller.refuse(problem.status, problem.code, problem.text) from None
    store = caller.state.store
    for patient_id in (source, alternate):
        stored = store.patient(patient_id)
        if stored is None:
            raise caller.refuse(404, "not-found", "no patient with this id", patient=patient_id)
        if temporary_number_of(stored.resource) is not None:
            raise caller.refuse(
                409, "conflict", "a temporary identity joins the real patient by $link-identity", patient=patient_id
            )
    made = linkage(source, alternate, staff_id)
    kept = store.add_linkage(made["id"], "|".join(sorted((source, alternate))), orjson.dumps(made))
    created = kept["id"] == made["id"]
    caller.audit([source, alternate], "linked as one person" if created else "already linked as one person")
    location = {"Location": f"{base_url(request)}/Linkage/{kept['id']}"}
    return FhirResponse(kept, 201 if created else 200, location)
