"""Temporary identities: the ER registers a person it cannot identify, links them to their real record later, and
can undo that link.

`POST Patient` creates a temporary Patient (ER only): exactly one identifier of the temporary system with a valid
check digit, the alias worked out from the number as its only name, the unidentified-arrival extension, and at
most sex, a birth year and a photo beside. The server stores the Patient it builds from those parts (never other
fields of the body) under the number as its id, so the same number again, from a retry or an outbox delivering
twice, answers 200 with the Patient already made and never makes a second one.

`POST Patient/{id}/$link-identity` marks the temporary Patient `active: false` and `replaced-by` the real one, adds
`replaces` to the real one, and moves the walk-ins recorded under the temporary identity to the real patient,
remembering which; `$unlink-identity` restores both Patients and moves back exactly those walk-ins (not one the real
patient had of their own). Each step is one SQLite transaction and writes a Provenance (activity `link` or `unlink`
of ISO 21089, the staff member and client from the token as agents), listed by `GET Provenance?target=`.

A repeat is never applied twice: the same link again (same temporary Patient, same target) answers 200 with the
Patient as linked and changes nothing, so a kiosk retrying after a lost answer is not refused; a link to another
target stays 409. A request carrying an `Idempotency-Key` header is recorded with its Provenance, and the same key
again on the same temporary Patient answers 200 with the Patient as it is now, writing nothing (an undo retried after
its answer was lost, even when the identity was linked again since).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request

from lookup.domain.model import FHIR_ID, FHIR_ID_PATTERN
from lookup.domain.temporary import ALIAS_PREFIX, TEMPORARY_SYSTEM, UNKNOWN_EXTENSION, temporary_alias, temporary_number
from sandbox.server.audit import CLIENT_SYSTEM, STAFF_SYSTEM
from sandbox.server.auth import Grant
from sandbox.server.fhir import columns_of, local_id, now_instant, searchset
from sandbox.server.http import FhirProblem, FhirResponse, base_url
from sandbox.server.policy import Caller, Operation, Resource, permitted
from sandbox.server.storage import Store, StoredPatient

router = APIRouter()
Json = dict[str, Any]
PatientId = Annotated[str, Path(pattern=FHIR_ID_PATTERN)]
LIFECYCLE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
IDEMPOTENCY_EXTENSION: Final = "urn:kiosk:idempotency-key"
"""The extension of a Provenance that keeps the `Idempotency-Key` of the request that made it."""
_IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9:._-]{1,128}")
PARTICIPANT_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_ALLOWED_FIELDS: Final = frozenset(
    {"resourceType", "id", "meta", "identifier", "active", "name", "gender", "birthDate", "extension", "photo"}
)
_GENDERS: Final = frozenset({"male", "female", "other", "unknown"})
_PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png"})
_FIELD_NAME: Final = re.compile(r"[A-Za-z_]{1,40}")
_YEAR: Final = re.compile(r"[0-9]{4}")
_LINKED_FIELDS: Final = ("active", "link", "id", "meta")
"""What a link changes on a temporary Patient: left out when a repeated create is compared with the stored one."""
CREATE_EXAMPLE: Final[Json] = {
    "resourceType": "Patient",
    "identifier": [{"system": TEMPORARY_SYSTEM, "value": "TMP123456782"}],
    "name": [{"use": "temp", "text": temporary_alias("TMP123456782")}],
    "gender": "unknown",
    "extension": [
        {"url": UNKNOWN_EXTENSION, "extension": [{"url": "arrival", "valueDateTime": "2026-01-05T22:10:00+07:00"}]}
    ],
}
LINK_EXAMPLE: Final[Json] = {
    "resourceType": "Parameters",
    "parameter": [{"name": "target", "valueReference": {"reference": "Patient/p1"}}],
}


# -- the temporary Patient ---------------------------------------------------------------------------------------


def temporary_number_of(resource: Json) -> str | None:
    """The temporary number a stored Patient carries, or None when it is not a temporary Patient."""
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == TEMPORARY_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


def _number(body: Json) -> str:
    identifiers = body.get("identifier")
    if not isinstance(identifiers, list) or len(identifiers) != 1 or not isinstance(identifiers[0], dict):
        raise FhirProblem(400, "invalid", "a temporary Patient carries exactly one identifier, its temporary number")
    system, value = identifiers[0].get("system"), identifiers[0].get("value")
    if system != TEMPORARY_SYSTEM:
        raise FhirProblem(400, "invalid", f"the identifier of a temporary Patient must be of {TEMPORARY_SYSTEM}")
    number = temporary_number(value) if isinstance(value, str) else None
    if number is None or number != value:
        raise FhirProblem(
            400, "invalid", "the temporary number must be TMP and nine digits whose last is a valid check digit"
        )
    return number


def _arrival_parts(extensions: object) -> list[Json]:
    if not isinstance(extensions, list) or len(extensions) != 1 or not isinstance(extensions[0], dict):
        raise FhirProblem(400, "invalid", f"a temporary Patient carries one extension, {UNKNOWN_EXTENSION}")
    if extensions[0].get("url") != UNKNOWN_EXTENSION or not isinstance(extensions[0].get("extension"), list):
        raise FhirProblem(
            400, "invalid", f"a temporary Patient carries one extension, {UNKNOWN_EXTENSION}, with its parts"
        )
    parts: dict[str, Json] = {}
    for part in extensions[0]["extension"]:
        url = part.get("url") if isinstance(part, dict) else None
        if url == "arrival" and isinstance(part.get("valueDateTime"), str):
            text = part["valueDateTime"]
            try:
                dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise FhirProblem(400, "invalid", "the arrival is not a date and time") from None
            parts[url] = {"url": url, "valueDateTime": text}
        elif url == "estimatedAge" and type(part.get("valueInteger")) is int and 0 <= part["valueInteger"] <= 120:
            parts[url] = {"url": url, "valueInteger": part["valueInteger"]}
        elif url == "description" and isinstance(part.get("valueString"), str) and len(part["valueString"]) <= 500:
            parts[url] = {"url": url, "valueString": part["valueString"]}
        else:
            raise FhirProblem(
                400, "invalid", "the arrival extension holds arrival, estimatedAge (0-120) and description only"
            )
    if "arrival" not in parts:
        raise FhirProblem(400, "invalid", "the arrival extension must give the arrival time (valueDateTime)")
    return [parts[name] for name in ("arrival", "estimatedAge", "description") if name in parts]


def _photo(photos: object) -> list[Json]:
    if not isinstance(photos, list) or len(photos) != 1 or not isinstance(photos[0], dict):
        raise FhirProblem(400, "invalid", "a temporary Patient carries at most one photo")
    kind, data = photos[0].get("contentType"), photos[0].get("data")
    if kind not in _PHOTO_TYPES or not isinstance(data, str):
        raise FhirProblem(400, "invalid", "the photo must be image/jpeg or image/png data")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise FhirProblem(400, "invalid", "the photo data is not base64") from None
    return [{"contentType": kind, "data": data}]


def temporary_patient(body: Json) -> Json:
    """The temporary Patient the server stores for a create request, built from the parts it allows; raises
    `FhirProblem` naming the first thing wrong."""
    if body.get("resourceType") != "Patient":
        raise FhirProblem(400, "invalid", "the body must be a Patient resource")
    extra = sorted(set(body) - _ALLOWED_FIELDS)
    if extra:
        named = extra[0] if _FIELD_NAME.fullmatch(extra[0]) else "a field"
        raise FhirProblem(400, "invalid", f"{named} is not recorded for a temporary Patient")
    number = _number(body)
    alias = temporary_alias(number)
    names = body.get("name")
    if names is not None and not (
        isinstance(names, list) and len(names) == 1 and isinstance(names[0], dict) and names[0].get("text") == alias
    ):
        raise FhirProblem(400, "invalid", "a temporary Patient's only name is the alias of its number")
    if body.get("active") not in (None, True):
        raise FhirProblem(400, "invalid", "a temporary Patient is created active")
    gender = body.get("gender", "unknown")
    if gender not in _GENDERS:
        raise FhirProblem(400, "invalid", "gender must be male, female, other or unknown")
    word, last4 = alias.removeprefix(ALIAS_PREFIX).split()
    resource: Json = {
        "resourceType": "Patient",
        "id": number,
        "identifier": [{"use": "temp", "system": TEMPORARY_SYSTEM, "value": number}],
        "active": True,
        "name": [{"use": "temp", "text": alias, "family": ALIAS_PREFIX, "given": [word, last4]}],
        "gender": gender,
    }
    birth = body.get("birthDate")
    if birth is not None:
        if not isinstance(birth, str) or not _YEAR.fullmatch(birth):
            raise FhirProblem(400, "invalid", "the birthDate of a temporary Patient is a year (YYYY)")
        resource["birthDate"] = birth
    resource["extension"] = [{"url": UNKNOWN_EXTENSION, "extension": _arrival_parts(body.get("extension"))}]
    if body.get("photo") is not None:
        resource["photo"] = _photo(body["photo"])
    return resource


def _same_registration(stored: Json, made: Json) -> bool:
    def core(resource: Json) -> Json:
        return {k: v for k, v in resource.items() if k not in _LINKED_FIELDS}

    return core(stored) == core(made)


@router.post("/Patient", response_class=FhirResponse, status_code=201, summary="Register a temporary Patient")
def create_temporary(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.CREATE))],
    body: Annotated[Json, Body(examples=[CREATE_EXAMPLE])],
) -> FhirResponse:
    try:
        made = temporary_patient(body)
    except FhirProblem as problem:
        raise caller.refuse(problem.status, problem.code, problem.text) from None
    store = caller.state.store
    cols = columns_of(made)
    system = store.system_id(TEMPORARY_SYSTEM)
    # Consent is taken as given: the record holds only what this ER wrote for someone who cannot be asked, and
    # nothing another facility shared. Once linked, what it held moves under the real patient's own consent.
    consent = 1
    row = (made["id"], cols.family, cols.given, cols.given_all, cols.birth_date, cols.birth_year, cols.gender,
           cols.state, cols.phone, consent, 0, None, None, orjson.dumps(made))  # fmt: skip
    with store.transaction():
        existing = store.patient(made["id"])
        stored = existing or store.add_patient(row, [(made["identifier"][0]["value"], system)])
    location = {"Location": f"{base_url(request)}/Patient/{stored.id}"}
    if existing is None:
        caller.audit([stored.id], "temporary identity registered")
        return FhirResponse(stored.resource, 201, location)
    if not _same_registration(existing.resource, made):
        raise caller.refuse(409, "duplicate", "another registration already holds this temporary number")
    caller.audit([stored.id], "temporary identity: already registered")
    return FhirResponse(existing.resource, 200, location)


# -- linking -----------------------------------------------------------------------------------------------------


def _target_id(body: Json) -> str:
    if body.get("resourceType") != "Parameters" or not isinstance(body.get("parameter"), list):
        raise FhirProblem(400, "invalid", "the body must be a Parameters resource")
    targets = [p for p in body["parameter"] if isinstance(p, dict) and p.get("name") == "target"]
    reference = targets[0].get("valueReference") if len(targets) == 1 else None
    text = reference.get("reference") if isinstance(reference, dict) else None
    found = local_id(text, "Patient") if isinstance(text, str) and text.startswith("Patient/") else ""
    if not FHIR_ID.fullmatch(found):
        raise FhirProblem(400, "invalid", "the Parameters need one `target` (valueReference Patient/{id})")
    return found


def _agents(grant: Grant) -> list[Json]:
    found: list[Json] = []
    if grant.staff is not None:
        found.append(
            {
                "type": {"coding": [{"system": PARTICIPANT_SYSTEM, "code": "author"}]},
                "who": {
                    "identifier": {"system": STAFF_SYSTEM, "value": grant.staff.staff_id},
                    "display": grant.staff.name,
                },
            }
        )
    found.append(
        {
            "type": {"coding": [{"system": PARTICIPANT_SYSTEM, "code": "performer" if found else "author"}]},
            "who": {"identifier": {"system": CLIENT_SYSTEM, "value": grant.client_id}, "display": grant.client_id},
        }
    )
    return found


def provenance(
    activity: str, temporary_id: str, real_id: str, grant: Grant, moved: list[str], key: str | None = None
) -> Json:
    """The Provenance of one link or unlink: the temporary Patient its target, the real one its source, the walk-ins
    moved as revised entities, and the request's idempotency key when it had one."""
    made: Json = {
        "resourceType": "Provenance",
        "id": str(uuid.uuid4()),
        "target": [{"reference": f"Patient/{temporary_id}"}],
        "recorded": now_instant(),
        "activity": {"coding": [{"system": LIFECYCLE_SYSTEM, "code": activity, "display": activity.capitalize()}]},
        "agent": _agents(grant),
        "entity": [
            {"role": "source", "what": {"reference": f"Patient/{real_id}"}},
            *({"role": "revision", "what": {"reference": ref}} for ref in moved),
        ],
    }
    if key is not None:
        made["extension"] = [{"url": IDEMPOTENCY_EXTENSION, "valueString": key}]
    return made


def _with_subject(data: bytes | None, patient_id: str) -> bytes | None:
    if data is None:
        return None
    resource = orjson.loads(data)
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    return orjson.dumps(resource)


Step = tuple[Json, StoredPatient, str]
"""What a link or an undo leaves: the temporary Patient as it now is, the real one, and what was done (audited)."""


def _link(store: Store, temporary: StoredPatient, target_id: str, grant: Grant, key: str | None) -> Step:
    """Inside the transaction: link, or find the same link made already; raises `FhirProblem`."""
    target = store.patient(target_id)
    if target is None:
        raise FhirProblem(404, "not-found", "no patient with the target id")
    if temporary_number_of(target.resource) is not None:
        raise FhirProblem(409, "conflict", "the target is itself a temporary identity: link to the real patient")
    linked = store.identity_link(temporary.rid)
    if linked is not None and linked[0] == target.rid:
        return temporary.resource, target, "linked already"
    if linked is not None:
        raise FhirProblem(
            409, "conflict", "this temporary identity is already linked to another patient; undo that first"
        )
    moved = []
    for ref, data in store.visits_of(temporary.rid):
        if store.move_visit(ref, temporary.rid, target.rid, _with_subject(data, target.id)):
            moved.append(ref)
    was_active = temporary.resource.get("active", True) is not False
    now = dict(temporary.resource, active=False)
    now["link"] = [{"other": {"reference": f"Patient/{target.id}"}, "type": "replaced-by"}]
    real = dict(target.resource)
    real["link"] = [*(real.get("link") or []), {"other": {"reference": f"Patient/{temporary.id}"}, "type": "replaces"}]
    store.set_patient_json(temporary.rid, orjson.dumps(now))
    store.set_patient_json(target.rid, orjson.dumps(real))
    store.put_identity_link(temporary.rid, target.rid, was_active, moved)
    record = provenance("link", temporary.id, target.id, grant, moved, key)
    store.put_provenance(record["id"], f"Patient/{temporary.id}", orjson.dumps(record))
    return now, target, "linked"


def _unlink(store: Store, temporary: StoredPatient, grant: Grant, key: str | None) -> Step:
    linked = store.identity_link(temporary.rid)
    target = store.patient_by_rid(linked[0]) if linked is not None else None
    if linked is None or target is None:
        raise FhirProblem(409, "conflict", "this temporary identity is not linked")
    _, was_active, moved = linked
    back = []
    for ref in moved:
        visit = store.visit(ref)
        if visit is not None and store.move_visit(
            ref, target.rid, temporary.rid, _with_subject(visit[4], temporary.id)
        ):
            back.append(ref)
    now = {k: v for k, v in temporary.resource.items() if k != "link"}
    now["active"] = was_active
    mine = {"other": {"reference": f"Patient/{temporary.id}"}, "type": "replaces"}
    real = {k: v for k, v in target.resource.items() if k != "link"}
    kept = [entry for entry in target.resource.get("link") or [] if entry != mine]
    if kept:
        real["link"] = kept
    store.set_patient_json(temporary.rid, orjson.dumps(now))
    store.set_patient_json(target.rid, orjson.dumps(real))
    store.drop_identity_link(temporary.rid)
    record = provenance("unlink", temporary.id, target.id, grant, back, key)
    store.put_provenance(record["id"], f"Patient/{temporary.id}", orjson.dumps(record))
    return now, target, "unlinked"


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise FhirProblem(400, "invalid", "an Idempotency-Key is 1 to 128 letters, digits and the signs : . _ -")
    return key


def _done_before(store: Store, temporary: StoredPatient, activity: str, key: str | None) -> Step | None:
    """The step a request with this key already made on this temporary Patient, answered as the Patient is now."""
    if key is None:
        return None
    for record in store.provenances_of(f"Patient/{temporary.id}"):
        keys = [e.get("valueString") for e in record.get("extension") or [] if e.get("url") == IDEMPOTENCY_EXTENSION]
        codes = [c.get("code") for c in (record.get("activity") or {}).get("coding") or []]
        if key in keys and activity in codes:
            source = next((e for e in record.get("entity") or [] if e.get("role") == "source"), None)
            real = store.patient(local_id(source["what"]["reference"], "Patient")) if source else None
            if real is not None:
                return temporary.resource, real, f"{activity}ed already"
    return None


def _temporary_or_refuse(caller: Caller, patient_id: str) -> StoredPatient:
    stored = caller.state.store.patient(patient_id)
    if stored is None:
        raise caller.refuse(404, "not-found", "no patient with this id")
    if temporary_number_of(stored.resource) is None:
        raise caller.refuse(400, "invalid", "this Patient is not a temporary identity", patient=stored.id)
    return stored


def _changed(
    caller: Caller,
    request: Request,
    patient_id: str,
    activity: str,
    step: Callable[[Store, StoredPatient, str | None], Step],
) -> FhirResponse:
    temporary = _temporary_or_refuse(caller, patient_id)
    store = caller.state.store
    try:
        key = _idempotency_key(request)
        # The refusal is raised (and audited) after the rollback, so its audit event is kept.
        with store.transaction():
            fresh = store.patient(patient_id) or temporary
            now, target, done = _done_before(store, fresh, activity, key) or step(store, fresh, key)
    except FhirProblem as problem:
        raise caller.refuse(problem.status, problem.code, problem.text, patient=temporary.id) from None
    caller.audit([temporary.id, target.id], done)
    return FhirResponse(now)


@router.post("/Patient/{patient_id}/$link-identity", response_class=FhirResponse, summary="Link to the real patient")
def link_identity(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.LINK))],
    patient_id: PatientId,
    body: Annotated[Json, Body(examples=[LINK_EXAMPLE])],
) -> FhirResponse:
    try:
        target_id = _target_id(body)
    except FhirProblem as problem:
        raise caller.refuse(problem.status, problem.code, problem.text, patient=patient_id) from None
    return _changed(
        caller, request, patient_id, "link", lambda store, fresh, key: _link(store, fresh, target_id, caller.grant, key)
    )


@router.post("/Patient/{patient_id}/$unlink-identity", response_class=FhirResponse, summary="Undo the link")
def unlink_identity(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.UNLINK))],
    patient_id: PatientId,
    body: Annotated[Json | None, Body()] = None,
) -> FhirResponse:
    return _changed(
        caller, request, patient_id, "unlink", lambda store, fresh, key: _unlink(store, fresh, caller.grant, key)
    )


@router.get("/Provenance", response_class=FhirResponse, summary="A temporary identity's link history")
def search_provenance(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PROVENANCE, Operation.SEARCH))],
    target: Annotated[str, Query(max_length=200)],
) -> FhirResponse:
    patient_id = local_id(target, "Patient")
    if not target.startswith("Patient/") or not FHIR_ID.fullmatch(patient_id):
        raise caller.refuse(400, "invalid", "search Provenance by target=Patient/{id}")
    found = caller.state.store.provenances_of(f"Patient/{patient_id}")
    caller.audit([patient_id], f"identity history: {len(found)} steps")
    return FhirResponse(searchset(found, self_url=str(request.url), total=len(found), base=base_url(request)))
