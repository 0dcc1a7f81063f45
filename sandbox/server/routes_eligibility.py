"""The simulated insurance gateway: `POST CoverageEligibilityRequest` answers whether a health-insurance (BHYT) card
is in force, its benefit period and its benefit level, as the national gateway would.

The card is named by the request's contained Coverage (`insurance[0].coverage` = `#id`, its `subscriberId` or an
`identifier`), or by its `patient`: a contained Patient with a BHYT identifier, or (not for the lobby, which must
give the card number itself) a `Patient/{id}` of this server, whose BHYT identifier is used.

The answer is synthetic and deterministic from the card number and today's date (`eligibility`):
- a card number ending in 0 expired at the end of last year (`inforce: false`);
- ending in 1: in force, expiring 14 days from today;
- ending in 2: not yet valid, from the first day of next month (`inforce: false`);
- any other: in force from 1 January this year to 31 December next year.
The benefit level (1-5, extension `BENEFIT_LEVEL_URL` on `insurance[0]`) is the third character of a legacy
15-character card when it is 1-5 (as printed cards code it), else the second-to-last digit modulo 5, plus 1.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, value_problem
from lookup.domain.model import FHIR_ID
from sandbox.server.fhir import local_id, now_instant
from sandbox.server.http import FhirProblem, FhirResponse
from sandbox.server.policy import Caller, Limit, Operation, Resource, permitted

router = APIRouter()
Json = dict[str, Any]
BHYT_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.BHYT)
BENEFIT_LEVEL_URL: Final = "http://fhir.hl7.org.vn/core/StructureDefinition/bhyt-benefit-level"
EXPIRING_IN_DAYS: Final = 14
INSURER: Final = "Bảo hiểm xã hội Việt Nam (cổng giám định mô phỏng)"
REQUEST_EXAMPLE: Final[Json] = {
    "resourceType": "CoverageEligibilityRequest",
    "status": "active",
    "purpose": ["validation"],
    "contained": [
        {
            "resourceType": "Coverage",
            "id": "card",
            "status": "active",
            "subscriberId": "DN4010123456789",
            "beneficiary": {"identifier": {"system": BHYT_SYSTEM, "value": "DN4010123456789"}},
            "payor": [{"display": "Bảo hiểm xã hội Việt Nam"}],
        }
    ],
    "patient": {"identifier": {"system": BHYT_SYSTEM, "value": "DN4010123456789"}},
    "created": "2026-01-05",
    "insurer": {"display": "Bảo hiểm xã hội Việt Nam"},
    "insurance": [{"coverage": {"reference": "#card"}}],
}


def eligibility(card: str, today: dt.date) -> tuple[bool, dt.date, dt.date, int]:
    """(in force, benefit period start, end, benefit level) of a card number, by the module's synthetic rule."""
    last = card[-1]
    if last == "0":
        start, end = dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    elif last == "1":
        start, end = dt.date(today.year - 1, 1, 1), today + dt.timedelta(days=EXPIRING_IN_DAYS)
    elif last == "2":
        start = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
        end = dt.date(start.year + 1, 12, 31)
    else:
        start, end = dt.date(today.year, 1, 1), dt.date(today.year + 1, 12, 31)
    printed = card[2] if len(card) == 15 else ""
    level = int(printed) if printed in {"1", "2", "3", "4", "5"} else int(card[-2]) % 5 + 1
    return start <= today <= end, start, end, level


def _contained(body: Json) -> dict[str, Json]:
    contained = body.get("contained") or []
    if not isinstance(contained, list):
        raise FhirProblem(400, "invalid", "contained must be a list of resources")
    return {f"#{r['id']}": r for r in contained if isinstance(r, dict) and isinstance(r.get("id"), str)}


def _card_of_coverage(coverage: Json) -> str | None:
    if isinstance(coverage.get("subscriberId"), str):
        return str(coverage["subscriberId"])
    values = [i for i in coverage.get("identifier") or [] if isinstance(i, dict) and isinstance(i.get("value"), str)]
    chosen = next((i for i in values if i.get("system") == BHYT_SYSTEM), values[0] if values else None)
    return str(chosen["value"]) if chosen is not None else None


def _bhyt_of(patient: Json) -> str | None:
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == BHYT_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


def _card(caller: Caller, body: Json) -> tuple[str, str | None]:
    """The card number the request names and the server's patient it came from (None when given directly)."""
    contained = _contained(body)
    insurance = body.get("insurance")
    first = insurance[0] if isinstance(insurance, list) and insurance and isinstance(insurance[0], dict) else {}
    coverage_ref = first.get("coverage")
    reference = coverage_ref.get("reference") if isinstance(coverage_ref, dict) else None
    coverage = contained.get(reference) if isinstance(reference, str) else None
    if coverage is not None and coverage.get("resourceType") == "Coverage":
        found = _card_of_coverage(coverage)
        if found is not None:
            return found, None
    patient = body.get("patient")
    patient_ref = patient.get("reference") if isinstance(patient, dict) else None
    if isinstance(patient, dict) and isinstance(patient.get("identifier"), dict):
        found = _bhyt_of({"identifier": [patient["identifier"]]})
        if found is not None:
            return found, None
    if isinstance(patient_ref, str) and patient_ref.startswith("#"):
        held = contained.get(patient_ref)
        found = _bhyt_of(held) if held is not None and held.get("resourceType") == "Patient" else None
        if found is not None:
            return found, None
    if isinstance(patient_ref, str) and patient_ref.startswith("Patient/"):
        if caller.under(Limit.EXACT_CARD):
            raise FhirProblem(403, "forbidden", f"the {caller.role.value} role must give the card number itself")
        stored = caller.state.store.patient(local_id(patient_ref, "Patient"))
        found = _bhyt_of(stored.resource) if stored is not None else None
        if stored is None:
            raise FhirProblem(404, "not-found", "no patient with this id")
        if found is None:
            raise FhirProblem(422, "invalid", "this patient has no health-insurance card on record")
        return found, stored.id
    raise FhirProblem(
        400, "invalid", "name the card: a contained Coverage (subscriberId or identifier) as insurance[0].coverage"
    )


@router.post(
    "/CoverageEligibilityRequest", response_class=FhirResponse, summary="Is this health-insurance card in force?"
)
def check_eligibility(
    caller: Annotated[Caller, Depends(permitted(Resource.COVERAGE_ELIGIBILITY_REQUEST, Operation.CREATE))],
    body: Annotated[Json, Body(examples=[REQUEST_EXAMPLE])],
) -> FhirResponse:
    if body.get("resourceType") != "CoverageEligibilityRequest":
        raise caller.refuse(400, "invalid", "the body must be a CoverageEligibilityRequest")
    try:
        card, patient_id = _card(caller, body)
    except FhirProblem as problem:
        raise caller.refuse(problem.status, problem.code, problem.text) from None
    malformed = value_problem(IdentifierKind.BHYT, card) or (None if card.isascii() else "not in ASCII digits")
    if malformed is not None:
        raise caller.refuse(400, "invalid", f"the card number is {malformed}")
    inforce, start, end, level = eligibility(card, dt.date.today())
    card_reference = {"identifier": {"system": BHYT_SYSTEM, "value": card}}
    request_id = body.get("id")
    answer: Json = {
        "resourceType": "CoverageEligibilityResponse",
        "id": str(uuid.uuid4()),
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": f"Patient/{patient_id}"} if patient_id else card_reference,
        "created": now_instant(),
        "request": (
            {"reference": f"CoverageEligibilityRequest/{request_id}"}
            if isinstance(request_id, str) and FHIR_ID.fullmatch(request_id)
            else {"display": "the request of this answer"}
        ),
        "outcome": "complete",
        "disposition": "Thẻ còn hiệu lực" if inforce else "Thẻ không có hiệu lực hôm nay",
        "insurer": {"display": INSURER},
        "insurance": [
            {
                "extension": [{"url": BENEFIT_LEVEL_URL, "valueInteger": level}],
                "coverage": card_reference,
                "inforce": inforce,
                "benefitPeriod": {"start": start.isoformat(), "end": end.isoformat()},
            }
        ],
    }
    caller.audit([patient_id], f"eligibility: {'in force' if inforce else 'not in force'}")
    return FhirResponse(answer)
