"""Patient routes: identifier and plain search, read, `$match`, `$summary`, documents by search, Consent.

Each route passes the policy's gate (`sandbox.server.policy.permitted`) and applies the limits it is handed: the
lobby's search minimum and identity-only view, consent and break-glass for clinical content, and the server's audit
of every patient shown."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request

from lookup.domain.model import FHIR_ID_PATTERN, MatchGrade
from lookup.domain.provinces import current_province
from lookup.domain.text import fold, phone_digits
from lookup.fhir.patient import demographics_of
from lookup.service.audit import PURPOSE_HEADER, REASON_HEADER
from sandbox.server.fhir import local_id, searchset
from sandbox.server.http import DEFAULT_COUNT, MAX_COUNT, FhirProblem, FhirResponse, base_url, page_links
from sandbox.server.http import state_of as _state
from sandbox.server.limits import MATCH_LIST_ITEMS, MATCH_MAX_RESULTS, match_field_problem
from sandbox.server.policy import (
    Caller,
    Limit,
    Operation,
    Resource,
    identity_view,
    lobby_match_problem,
    lobby_search_problem,
    permitted,
)
from sandbox.server.storage import StoredPatient

router = APIRouter()
Json = dict[str, Any]
_DATE_PARAM: Final = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
MATCH_EXAMPLE: Final[Json] = {
    "resourceType": "Parameters",
    "parameter": [
        {
            "name": "resource",
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": "Nguyễn", "given": ["Văn", "An"]}],
                "birthDate": "1980-05-17",
                "gender": "male",
                "address": [{"state": "Hà Nội"}],
            },
        },
        {"name": "count", "valueInteger": 5},
        {"name": "onlyCertainMatches", "valueBoolean": False},
    ],
}
Count = Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)]
Offset = Annotated[int, Query(alias="_offset", ge=0, le=10_000_000)]
PatientId = Annotated[str, Path(pattern=FHIR_ID_PATTERN)]


def _identifier_clause(request: Request, token_list: str) -> tuple[str, list[Any]]:
    """One `identifier` parameter: comma-separated tokens are alternatives (FHIR OR)."""
    store = _state(request).store
    alternatives: list[str] = []
    params: list[Any] = []
    for token in token_list.split(","):
        system, sep, value = token.partition("|")
        if not sep:
            system, value = "", token
        if not value:
            raise FhirProblem(400, "invalid", "an identifier search needs a value (SYSTEM|VALUE)")
        if system:
            known = store.known_system(system)
            if known is None:
                continue
            alternatives.append("(value = ? AND system = ?)")
            params.extend((value, known))
        else:
            alternatives.append("value = ?")
            params.append(value)
    if not alternatives:
        return "0", []
    return f"rid IN (SELECT rid FROM identifiers WHERE {' OR '.join(alternatives)})", params


def _birthdate_clause(value: str) -> tuple[str, list[Any]]:
    match = _DATE_PARAM.match(value)
    if not match:
        raise FhirProblem(
            400, "invalid", "birthdate must be a date YYYY, YYYY-MM or YYYY-MM-DD (prefix eq/ge/le/gt/lt)"
        )
    prefix, year, month, day = match.group(1) or "eq", match.group(2), match.group(3), match.group(4)
    if day is None and month is None:
        operator = {"eq": "=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<"}[prefix]
        return f"birth_year {operator} ?", [int(year)]
    text = f"{year}-{month}" + (f"-{day}" if day else "")
    try:
        dt.date.fromisoformat(text if day else f"{text}-01")
    except ValueError:
        raise FhirProblem(400, "invalid", "birthdate is not a calendar date") from None
    if day is None:
        lower, upper = f"{text}-01", f"{text}-99"
        ranges = {
            "eq": ("birth_date BETWEEN ? AND ?", [lower, upper]),
            "ge": ("birth_date >= ?", [lower]),
            "gt": ("birth_date > ?", [upper]),
            "le": ("birth_date <= ?", [upper]),
            "lt": ("birth_date < ?", [lower]),
        }
        return ranges[prefix]
    operator = {"eq": "=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<"}[prefix]
    return f"birth_date {operator} ?", [text]


def _prefix(column: str, text: str) -> tuple[str, list[Any]]:
    folded = fold(text)
    return f"{column} >= ? AND {column} < ?", [folded, folded + "\uffff"]


def _given_clause(given: str, whole: bool) -> tuple[str, list[Any]]:
    """`given` as a prefix of the given name (or of middle and given names when it has a space); `whole` compares
    the whole name instead, as the lobby's search must."""
    if whole:
        folded = fold(given)
        return "(given = ? OR given_all = ?)", [folded, folded]
    return _prefix("given_all" if " " in given.strip() else "given", given)


@router.get("/Patient", response_class=FhirResponse, summary="Search patients (identifier, name, birth date, ...)")
def search_patients(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.SEARCH))],
    identifier: Annotated[list[str] | None, Query(max_length=512)] = None,
    family: Annotated[str | None, Query(max_length=100)] = None,
    given: Annotated[str | None, Query(max_length=100)] = None,
    birthdate: Annotated[list[str] | None, Query(max_length=20)] = None,
    gender: Annotated[str | None, Query(pattern="^(male|female|other|unknown)$")] = None,
    address_state: Annotated[str | None, Query(alias="address-state", max_length=100)] = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
    resource_id: Annotated[str | None, Query(alias="_id", max_length=64)] = None,
    summary_mode: Annotated[str | None, Query(alias="_summary", pattern="^(count|false)$")] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    single_out = caller.under(Limit.SINGLE_OUT)
    if single_out:
        caller.check_paging()
        problem = lobby_search_problem(
            identifier=bool(identifier), family=family, given=given, birthdates=birthdate or [], phone=phone
        )
        if problem is not None:
            raise caller.refuse(400, "required", problem)
    where: list[str] = []
    params: list[Any] = []

    def add(clause: tuple[str, list[Any]]) -> None:
        where.append(clause[0])
        params.extend(clause[1])

    for token_list in identifier or []:
        add(_identifier_clause(request, token_list))
    if family:
        add(("family = ?", [fold(family)]) if single_out else _prefix("family", family))
    if given:
        add(_given_clause(given, whole=single_out))
    for value in birthdate or []:
        add(_birthdate_clause(value))
    if gender:
        add(("gender = ?", [gender]))
    if address_state:
        province = current_province(address_state)
        add(("state = ?", [fold(province.name)]) if province else _prefix("state", address_state))
    if phone:
        add(("phone = ?", [phone_digits(phone)]))
    if resource_id:
        add(("id = ?", [resource_id]))
    store = _state(request).store
    if caller.operation is Operation.COUNT:
        _, total = store.search_patients(where, params, 0, 0)
        return FhirResponse(searchset([], self_url=str(request.url), total=total, base=base_url(request)))
    count = caller.capped(count)
    found, total = store.search_patients(where, params, count, offset)
    caller.audit([p.id for p in found], "identity" if found else "nobody found")
    if single_out:
        # A handful of people and no way on: the lobby cannot page through the register.
        shown = [identity_view(p.resource) for p in found]
        return FhirResponse(
            searchset(shown, self_url=str(request.url), total=total if total <= count else None, base=base_url(request))
        )
    self_url, next_url = page_links(request, count, offset, total)
    bundle = searchset(
        [p.resource for p in found], self_url=self_url, next_url=next_url, total=total, base=base_url(request)
    )
    return FhirResponse(bundle)


def _patient_or_404(request: Request, patient_id: str) -> StoredPatient:
    patient = _state(request).store.patient(patient_id)
    if patient is None:
        raise FhirProblem(404, "not-found", "no patient with this id")
    return patient


@router.get("/Patient/{patient_id}", response_class=FhirResponse, summary="Read one patient")
def read_patient(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.READ))],
    patient_id: PatientId,
) -> FhirResponse:
    patient = _patient_or_404(request, patient_id)
    caller.audit([patient.id], "identity")
    return FhirResponse(patient.resource)


def _parameters(body: Json) -> tuple[Json, int, bool]:
    if body.get("resourceType") != "Parameters":
        raise FhirProblem(422, "invalid", "the body must be a FHIR Parameters resource")
    resource: Json | None = None
    count, only_certain = 10, False
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise FhirProblem(422, "invalid", "Parameters.parameter must be a list")
    if len(parameters) > MATCH_LIST_ITEMS:
        raise FhirProblem(400, "too-long", f"Parameters.parameter has more than {MATCH_LIST_ITEMS} items")
    for parameter in parameters:
        if not isinstance(parameter, dict):
            raise FhirProblem(422, "invalid", "every parameter must be an object")
        name = parameter.get("name")
        if name == "resource" and isinstance(parameter.get("resource"), dict):
            resource = parameter["resource"]
        elif name == "count" and isinstance(parameter.get("valueInteger"), int):
            count = parameter["valueInteger"]
        elif name == "onlyCertainMatches" and isinstance(parameter.get("valueBoolean"), bool):
            only_certain = parameter["valueBoolean"]
    if resource is None or resource.get("resourceType") != "Patient":
        raise FhirProblem(422, "required", "the Parameters need a Patient `resource`")
    if not 1 <= count <= MATCH_MAX_RESULTS:
        raise FhirProblem(400, "invalid", f"count must be between 1 and {MATCH_MAX_RESULTS}")
    # Checked before the Patient is read: an oversized name costs the matcher seconds of CPU.
    problem = match_field_problem(resource)
    if problem is not None:
        raise FhirProblem(400, "too-long", problem)
    return resource, count, only_certain


@router.post("/Patient/$match", response_class=FhirResponse, summary="Rank patients matching a partial Patient")
def match_patients(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.MATCH))],
    body: Annotated[Json, Body(examples=[MATCH_EXAMPLE])],
) -> FhirResponse:
    state = _state(request)
    if state.matching is None:
        raise FhirProblem(404, "not-supported", "this server does not offer $match")
    resource, count, only_certain = _parameters(body)
    try:
        query = demographics_of(resource)
    except (TypeError, AttributeError, ValueError):
        raise FhirProblem(422, "invalid", "the Patient resource is malformed") from None
    if query.is_empty():
        raise FhirProblem(422, "invalid", "the Patient must carry a name, birth date, phone or province")
    single_out = caller.under(Limit.SINGLE_OUT)
    if single_out:
        problem = lobby_match_problem(query)
        if problem is not None:
            raise caller.refuse(400, "required", problem)
        count = caller.capped(count)
    results = state.matching.search(query, count)
    if only_certain:
        results = [r for r in results if r[2] == MatchGrade.CERTAIN]
    resources, scores, shown = [], [], []
    for patient_id, score, grade in results:
        patient = state.store.patient(patient_id)
        if patient is not None:
            resources.append(identity_view(patient.resource) if single_out else patient.resource)
            scores.append((min(1.0, max(0.0, score)), grade))
            shown.append(patient.id)
    caller.audit(shown, "identity" if shown else "nobody found")
    bundle = searchset(
        resources, self_url=str(request.url), total=len(resources), base=base_url(request), scores=scores
    )
    return FhirResponse(bundle)


Purpose = Annotated[str | None, Header(alias=PURPOSE_HEADER, max_length=10)]
Reason = Annotated[str | None, Header(alias=REASON_HEADER)]
"""Its length and content are the policy's to judge (`break_glass_reason`), so a refused reason is audited."""


@router.get("/Patient/{patient_id}/$summary", response_class=FhirResponse, summary="Patient and signed documents")
def summary(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.PATIENT, Operation.SUMMARY))],
    patient_id: PatientId,
    purpose: Purpose = None,
    reason: Reason = None,
) -> FhirResponse:
    state = _state(request)
    if not state.config.supports_summary:
        raise FhirProblem(404, "not-supported", "this server does not offer $summary")
    patient = _patient_or_404(request, patient_id)
    chosen, kept = caller.release_purpose(patient, purpose, reason)
    documents = state.documents(patient)
    base = base_url(request)
    entries = [{"fullUrl": f"{base}/Patient/{patient.id}", "resource": patient.resource}]
    entries.extend({"fullUrl": d["identifier"]["value"], "resource": d} for d in documents)
    caller.audit([patient.id], f"clinical: {len(documents)} documents", purpose=chosen, reason=kept)
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": _now(), "entry": entries}
    return FhirResponse(bundle)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@router.get("/Bundle", response_class=FhirResponse, summary="Search document Bundles of a patient")
def search_documents(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.BUNDLE, Operation.SEARCH))],
    bundle_type: Annotated[str | None, Query(alias="type", max_length=20)] = None,
    subject: Annotated[str | None, Query(alias="composition.subject", max_length=200)] = None,
    patient_ref: Annotated[str | None, Query(alias="composition.patient", max_length=200)] = None,
    purpose: Purpose = None,
    reason: Reason = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    if bundle_type not in (None, "document"):
        raise FhirProblem(400, "not-supported", "only document Bundles are searchable here")
    reference = subject or patient_ref
    if not reference:
        raise FhirProblem(400, "required", "search documents by composition.subject=Patient/{id}")
    state = _state(request)
    patient = state.store.patient(local_id(reference, "Patient"))
    documents: list[Json] = []
    if patient is not None:
        chosen, kept = caller.release_purpose(patient, purpose, reason)
        documents = state.documents(patient)
        caller.audit([patient.id], f"clinical: {len(documents)} documents", purpose=chosen, reason=kept)
    page = documents[offset : offset + count]
    self_url, next_url = page_links(request, count, offset, len(documents))
    return FhirResponse(
        searchset(page, self_url=self_url, next_url=next_url, total=len(documents), base=base_url(request))
    )


@router.get("/Consent", response_class=FhirResponse, summary="A patient's sharing consent")
def search_consent(
    request: Request,
    caller: Annotated[Caller, Depends(permitted(Resource.CONSENT, Operation.SEARCH))],
    patient: Annotated[str, Query(max_length=200)],
) -> FhirResponse:
    stored = _state(request).store.patient(local_id(patient, "Patient"))
    entries = [_state(request).consent(stored)] if stored is not None else []
    if stored is not None:
        caller.audit([stored.id], "consent")
    return FhirResponse(searchset(entries, self_url=str(request.url), total=len(entries), base=base_url(request)))
