"""FHIR R4 JSON the sandbox emits and reads: Patient resources, search Bundles, OperationOutcomes.

The Vietnamese name is written as FHIR expects it: `family` first, `given` = [middle names..., given name], and
`text` the full name in Vietnamese order. `address[0].state` is the current (34-unit) province, `address[0].text`
the address as the card prints it (often with an old province name).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.provinces import current_province
from lookup.domain.provinces import fold as _fold
from sandbox.synthetic.population import SyntheticPerson

Json = dict[str, Any]
CCCD_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.CCCD)
BHYT_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.BHYT)
MATCH_GRADE_URL: Final = "http://hl7.org/fhir/StructureDefinition/match-grade"
_DATE = re.compile(r"^(\d{4})(-(\d{2})(-(\d{2}))?)?$")


@lru_cache(maxsize=262_144)
def fold(text: str) -> str:
    """Folded text for search columns (names repeat a lot, so the cache saves most of the work while loading)."""
    return _fold(text)


def patient_resource(person: SyntheticPerson) -> Json:
    given = [person.middle, person.given] if person.middle else [person.given]
    resource: Json = {
        "resourceType": "Patient",
        "id": person.patient_id,
        "identifier": [
            {"use": "official", "system": CCCD_SYSTEM, "value": person.cccd},
            {"system": BHYT_SYSTEM, "value": person.bhxh},
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


def phone_key(text: str) -> str:
    """A phone number as stored for search: digits only, the +84 country code written as the domestic 0."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("84") and len(digits) >= 11:
        return "0" + digits[2:]
    return digits


def columns_of(resource: Mapping[str, Any]) -> PatientColumns:
    """Search columns of any FHIR Patient (imported ones may be sparse or odd: missing parts are empty)."""
    names = [n for n in resource.get("name") or [] if isinstance(n, Mapping)]
    name = names[0] if names else {}
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    given_parts = [g for g in name.get("given") or [] if isinstance(g, str)]
    birth = resource.get("birthDate")
    birth_date: str | None = None
    birth_year: int | None = None
    if isinstance(birth, str) and (m := _DATE.match(birth)):
        birth_year = int(m.group(1))
        birth_date = birth if m.group(5) else None
    gender = resource.get("gender") if resource.get("gender") in {"male", "female", "other", "unknown"} else None
    state = ""
    for address in resource.get("address") or []:
        if not isinstance(address, Mapping):
            continue
        text = " ".join(str(address.get(k) or "") for k in ("text", "city", "state"))
        province = current_province(str(address.get("state") or "")) or current_province(text)
        if province is not None:
            state = fold(province.name)
            break
    phone = next(
        (
            phone_key(str(t.get("value")))
            for t in resource.get("telecom") or []
            if isinstance(t, Mapping) and t.get("system") == "phone" and t.get("value")
        ),
        None,
    )
    identifiers = tuple(
        (str(i["system"]), str(i["value"]))
        for i in resource.get("identifier") or []
        if isinstance(i, Mapping) and isinstance(i.get("system"), str) and isinstance(i.get("value"), str)
    )
    return PatientColumns(
        family=fold(family),
        given=fold(given_parts[-1]) if given_parts else "",
        given_all=fold(" ".join(given_parts)),
        birth_date=birth_date,
        birth_year=birth_year,
        gender=gender,
        state=state,
        phone=phone or None,
        identifiers=identifiers,
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
