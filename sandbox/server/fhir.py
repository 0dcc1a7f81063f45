"""FHIR R4 JSON the sandbox emits and reads: Patient resources, search Bundles, OperationOutcomes.

The Vietnamese name is written as FHIR expects it: `family` first, `given` = [middle names..., given name], and
`text` the full name in Vietnamese order. `address[0].state` is the current (34-unit) province, `address[0].text`
the address as the card prints it (often with an old province name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.provinces import current_province
from lookup.domain.text import fold, phone_digits
from lookup.fhir.bundles import MATCH_GRADE_URL
from lookup.fhir.patient import demographics_of, identifiers_of
from sandbox.synthetic.population import SyntheticPerson

Json = dict[str, Any]


def patient_resource(person: SyntheticPerson) -> Json:
    given = [person.middle, person.given] if person.middle else [person.given]
    resource: Json = {
        "resourceType": "Patient",
        "id": person.patient_id,
        "identifier": [
            {"use": "official", "system": DEFAULT_TABLE.system(IdentifierKind.CCCD), "value": person.cccd},
            {"system": DEFAULT_TABLE.system(IdentifierKind.BHYT), "value": person.bhxh},
        ],
        "active": True,
        "name": [{"use": "official", "text": person.full_name, "family": person.family, "given": given}],
        "gender": person.sex.value,
        "birthDate": person.birth_date.isoformat(),
        "address": [{"use": "home", "text": person.address, "state": person.province, "country": "VN"}],
    }
    if person.phone:
        resource["telecom"] = [{"system": "phone", "value": person.phone, "use": "mobile"}]
    return resource


@dataclass(frozen=True, slots=True)
class PatientColumns:
    """What plain search and matching need of a Patient, folded for accent-insensitive comparison."""

    family: str
    given: str
    given_all: str
    birth_date: str | None
    birth_year: int | None
    gender: str | None
    state: str
    phone: str | None
    identifiers: tuple[tuple[str, str], ...]


def columns_of(resource: Mapping[str, Any]) -> PatientColumns:
    """Search columns of any FHIR Patient, read by the one Patient reader so plain search and `$match` see the same
    name (imported Patients may be sparse or odd: missing parts are empty)."""
    person = demographics_of(resource)
    province = current_province(person.province or "") or current_province(person.address or "")
    return PatientColumns(
        family=fold(person.family or ""),
        given=fold(person.given or ""),
        given_all=fold(" ".join(part for part in (person.middle, person.given) if part)),
        birth_date=person.birth_date.isoformat() if person.birth_date else None,
        birth_year=person.birth_year,
        gender=person.sex.value if person.sex else None,
        state=fold(province.name) if province else "",
        phone=phone_digits(person.phone) or None,
        identifiers=tuple((i.system, i.value) for i in identifiers_of(resource)),
    )


def operation_outcome(code: str, text: str, severity: str = "error") -> Json:
    """An OperationOutcome with one issue; `text` is for people and never holds patient data."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}, "diagnostics": text}],
    }


def searchset(
    entries: Sequence[Json],
    *,
    self_url: str,
    next_url: str | None = None,
    total: int | None = None,
    base: str,
    scores: Sequence[tuple[float, str]] | None = None,
) -> Json:
    """A searchset Bundle of resources (with `search.score` and match-grade when `scores` is given)."""
    bundle: Json = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": now_instant(),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [],
    }
    if total is not None:
        bundle["total"] = total
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    for position, resource in enumerate(entries):
        entry: Json = {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}
        if scores is not None:
            score, grade = scores[position]
            entry["search"] = {
                "mode": "match",
                "score": round(score, 4),
                "extension": [{"url": MATCH_GRADE_URL, "valueCode": grade}],
            }
        else:
            entry["search"] = {"mode": "match"}
        bundle["entry"].append(entry)
    return bundle


def now_instant() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_id(reference: str, resource_type: str) -> str:
    """`Patient/p1`, an absolute URL ending so, or a bare id -> `p1`."""
    marker = f"{resource_type}/"
    if marker in reference:
        return reference.rsplit(marker, 1)[1].split("/")[0]
    return reference
