"""Patient routes: identifier and plain search, read, `$match`, `$summary`, documents by search, Consent."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final
from urllib.parse import unquote

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request

from lookup.domain.model import FHIR_ID_PATTERN, MatchGrade
from lookup.domain.provinces import current_province
from lookup.domain.text import fold, phone_digits
from lookup.fhir.patient import demographics_of
from lookup.service.audit import BREAK_GLASS, PURPOSE_HEADER, REASON_HEADER, TREATMENT
from sandbox.server.auth import Grant, Scope
from sandbox.server.fhir import local_id, searchset
from sandbox.server.http import DEFAULT_COUNT, MAX_COUNT, FhirProblem, FhirResponse, authorized, base_url, page_links
from sandbox.server.http import state_of as _state
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
PatientReader = Annotated[Grant, Depends(authorized(Scope.PATIENT_READ))]
ClinicalReader = Annotated[Grant, Depends(authorized(Scope.ALL_READ))]


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


@router.get("/Patient", response_class=FhirResponse, summary="Search patients (identifier, name, birth date, ...)")
def search_patients(
    request: Request,
    grant: PatientReader,
    identifier: Annotated[list[str] | None, Query(max_length=512)] = None,
    family: Annotated[str | None, Query(max_length=100)] = None,
    given: Annotated[str | None, Query(max_length=100)] = None,
    birthdate: Annotated[list[str] | None, Query(max_length=20)] = None,
    gender: Annotated[str | None, Query(pattern="^(male|female|other|unknown)$")] = None,
    address_state: Annotated[str | None, Query(alias="address-state", max_length=100)] = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
    resource_id: Annotated[str | None, Query(alias="_id", max_length=64)] = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> FhirResponse:
    where: list[str] = []
    params: list[Any] = []

    def add(clause: tuple[str, list[Any]]) -> None:
        where.append(clause[0])
        params.extend(clause[1])

    for token_list in identifier or []:
        add(_identifier_clause(request, token_list))
    if family:
        add(_prefix("family", family))
    if given:
        add(_prefix("given_all" if " " in given.strip() else "given", given))
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
    found, total = _state(request).store.search_patients(where, params, count, offset)
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
def read_patient(request: Request, grant: PatientReader, patient_id: PatientId) -> FhirResponse:
    return FhirResponse(_patient_or_404(request, patient_id).resource)


def _parameters(body: Json) -> tuple[Json, int, bool]:
    if body.get("resourceType") != "Parameters":
        raise FhirProblem(422, "invalid", "the body must be a FHIR Parameters resource")
    resource: Json | None = None
    count, only_certain = 10, False
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise FhirProblem(422, "invalid", "Parameters.parameter must be a list")
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
    if not 1 <= count <= 100:
        raise FhirProblem(422, "invalid", "count must be between 1 and 100")
    return resource, count, only_certain


@router.post("/Patient/$match", response_class=FhirResponse, summary="Rank patients matching a partial Patient")
def match_patients(
    request: Request, grant: PatientReader, body: Annotated[Json, Body(examples=[MATCH_EXAMPLE])]
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
    results = state.matching.search(query, count)
    if only_certain:
        results = [r for r in results if r[2] == MatchGrade.CERTAIN]
    resources, scores = [], []
    for patient_id, score, grade in results:
        patient = state.store.patient(patient_id)
        if patient is not None:
            resources.append(patient.resource)
            scores.append((min(1.0, max(0.0, score)), grade))
    bundle = searchset(
        resources, self_url=str(request.url), total=len(resources), base=base_url(request), scores=scores
    )
    return FhirResponse(bundle)


def release_purpose(request: Request, patient: StoredPatient, purpose: str | None, reason: str | None) -> str:
    """The purpose the release is audited under; raises 403 `consent-required` without consent or break-glass."""
    chosen = (purpose or TREATMENT).strip().upper()
    if chosen not in {TREATMENT, BREAK_GLASS, "TREAT"}:
        raise FhirProblem(400, "invalid", f"{PURPOSE_HEADER} must be ETREAT, TREAT or BTG")
    if chosen == BREAK_GLASS and not (reason and unquote(reason).strip()):
        raise FhirProblem(400, "required", f"break-glass needs an {REASON_HEADER}")
    if not patient.consent and chosen != BREAK_GLASS:
        raise FhirProblem(403, "forbidden", "consent-required: the patient has not consented to sharing")
    return chosen


Purpose = Annotated[str | None, Header(alias=PURPOSE_HEADER, max_length=10)]
Reason = Annotated[str | None, Header(alias=REASON_HEADER, max_length=500)]


@router.get("/Patient/{patient_id}/$summary", response_class=FhirResponse, summary="Patient and signed documents")
def summary(
    request: Request, grant: ClinicalReader, patient_id: PatientId, purpose: Purpose = None, reason: Reason = None
) -> FhirResponse:
    state = _state(request)
    if not state.config.supports_summary:
        raise FhirProblem(404, "not-supported", "this server does not offer $summary")
    patient = _patient_or_404(request, patient_id)
    chosen = release_purpose(request, patient, purpose, reason)
    documents = state.documents(patient)
    base = base_url(request)
    entries = [{"fullUrl": f"{base}/Patient/{patient.id}", "resource": patient.resource}]
    entries.extend({"fullUrl": d["identifier"]["value"], "resource": d} for d in documents)
    state.record_release(grant.client_id, patient.id, chosen, unquote(reason) if reason else None, "$summary")
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": _now(), "entry": entries}
    return FhirResponse(bundle)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@router.get("/Bundle", response_class=FhirResponse, summary="Search document Bundles of a patient")
def search_documents(
    request: Request,
    grant: ClinicalReader,
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
        chosen = release_purpose(request, patient, purpose, reason)
        documents = state.documents(patient)
        state.record_release(grant.client_id, patient.id, chosen, unquote(reason) if reason else None, "Bundle search")
    page = documents[offset : offset + count]
    self_url, next_url = page_links(request, count, offset, len(documents))
    return FhirResponse(
        searchset(page, self_url=self_url, next_url=next_url, total=len(documents), base=base_url(request))
    )


@router.get("/Consent", response_class=FhirResponse, summary="A patient's sharing consent")
def search_consent(
    request: Request, grant: ClinicalReader, patient: Annotated[str, Query(max_length=200)]
) -> FhirResponse:
    stored = _state(request).store.patient(local_id(patient, "Patient"))
    entries = [_state(request).consent(stored)] if stored is not None else []
    return FhirResponse(searchset(entries, self_url=str(request.url), total=len(entries), base=base_url(request)))
