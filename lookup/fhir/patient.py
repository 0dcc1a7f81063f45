"""FHIR R4 JSON <-> the domain model for people: Patient -> PatientRecord / Demographics, and back for `$match`.

Servers differ in what they fill in; every reader here is lenient (a missing or malformed element is skipped, never
fatal) and strict about what it keeps (an identifier whose value does not fit its known system is dropped).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from lookup.domain.model import Demographics, Identifier, MatchGrade, PatientRecord, Sex

MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PHONE = re.compile(r"^\+?[0-9 .-]{6,20}$")
Json = dict[str, Any]


def items(value: Any) -> list[Any]:
    """The elements of a FHIR repeating element; anything but a JSON array (a server's mistake) reads as none."""
    return value if isinstance(value, list) else []


def text_of(concept: Any) -> str | None:
    """The human text of a CodeableConcept: its `text`, else the first coding's display, else its code."""
    if not isinstance(concept, Mapping):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for coding in items(concept.get("coding")):
        if isinstance(coding, Mapping):
            display = coding.get("display")
            if isinstance(display, str) and display.strip():
                return display.strip()
    code = code_of(concept)
    return code


def code_of(concept: Any, system: str | None = None) -> str | None:
    """The first coding's code (of `system` when given)."""
    if not isinstance(concept, Mapping):
        return None
    for coding in items(concept.get("coding")):
        usable = isinstance(coding, Mapping) and isinstance(coding.get("code"), str)
        if usable and (system is None or coding.get("system") == system):
            return str(coding["code"])
    return None


def parse_date(value: Any) -> dt.date | None:
    """The calendar date of a FHIR date or dateTime; a bare year or year-month gives None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def identifiers_of(resource: Mapping[str, Any]) -> tuple[Identifier, ...]:
    found: list[Identifier] = []
    for raw in items(resource.get("identifier")):
        if not isinstance(raw, Mapping):
            continue
        system, value = raw.get("system"), raw.get("value")
        if not isinstance(system, str) or not isinstance(value, str):
            continue
        try:
            found.append(Identifier(system=system, value=value))
        except ValidationError:
            continue
    return tuple(found)


def _official_name(names: Iterable[Any]) -> Mapping[str, Any] | None:
    usable = [n for n in names if isinstance(n, Mapping)]
    for use in ("official", "usual", None):
        for name in usable:
            if use is None or name.get("use") == use:
                return name
    return None


def demographics_of(patient: Mapping[str, Any]) -> Demographics:
    """Demographics of a FHIR Patient. Vietnamese names: the last `given` is the given name, the rest the middle."""
    fields: dict[str, Any] = {}
    name = _official_name(items(patient.get("name")))
    if name is not None:
        family = name.get("family")
        given = [g for g in items(name.get("given")) if isinstance(g, str) and g.strip()]
        if isinstance(family, str) and family.strip():
            fields["family"] = family.strip()
        if given:
            fields["given"] = given[-1].strip()
            if len(given) > 1:
                fields["middle"] = " ".join(g.strip() for g in given[:-1])
        elif not family and isinstance(name.get("text"), str):
            parts = name["text"].split()
            if parts:
                fields["family"], fields["given"] = parts[0], parts[-1]
                if len(parts) > 2:
                    fields["middle"] = " ".join(parts[1:-1])
    birth = patient.get("birthDate")
    if isinstance(birth, str):
        date = parse_date(birth)
        if date is not None:
            fields["birth_date"] = date
        elif birth[:4].isdigit() and 1880 <= int(birth[:4]) <= 2100:
            fields["birth_year"] = int(birth[:4])
    gender = patient.get("gender")
    if isinstance(gender, str) and gender in {s.value for s in Sex}:
        fields["sex"] = Sex(gender)
    for address in items(patient.get("address")):
        if not isinstance(address, Mapping):
            continue
        if isinstance(address.get("state"), str):
            fields["province"] = address["state"]
        text = address.get("text")
        if not isinstance(text, str):
            parts = [*(items(address.get("line"))), address.get("district"), address.get("city"), address.get("state")]
            text = ", ".join(p for p in parts if isinstance(p, str) and p) or None
        if text:
            fields["address"] = text
        break
    for telecom in items(patient.get("telecom")):
        if isinstance(telecom, Mapping) and telecom.get("system") == "phone":
            value = telecom.get("value")
            if isinstance(value, str) and _PHONE.match(value):
                fields["phone"] = value
                break
    try:
        return Demographics(**fields)
    except ValidationError:
        return Demographics()


def patient_record(resource: Mapping[str, Any]) -> PatientRecord | None:
    """A PatientRecord, or None when the resource is no usable Patient (no id of the FHIR shape)."""
    if resource.get("resourceType") != "Patient":
        return None
    pid = resource.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        return None
    return PatientRecord(id=pid, identifiers=identifiers_of(resource), demographics=demographics_of(resource))


def patient_resource(query: Demographics) -> Json:
    """The FHIR Patient a `$match` request carries for a demographic query."""
    resource: Json = {"resourceType": "Patient"}
    given = [p for p in (query.middle, query.given) if p]
    if query.family or given:
        name: Json = {"use": "official"}
        if query.family:
            name["family"] = query.family
        if given:
            name["given"] = given
        resource["name"] = [name]
    if query.birth_date is not None:
        resource["birthDate"] = query.birth_date.isoformat()
    elif query.birth_year is not None:
        resource["birthDate"] = f"{query.birth_year:04d}"
    if query.sex is not None:
        resource["gender"] = query.sex.value
    if query.province or query.address:
        address: Json = {}
        if query.province:
            address["state"] = query.province
        if query.address:
            address["text"] = query.address
        resource["address"] = [address]
    if query.phone:
        resource["telecom"] = [{"system": "phone", "value": query.phone}]
    return resource


def search_entries(bundle: Mapping[str, Any], resource_type: str | None = None) -> list[Json]:
    """The `match`-mode resources of a searchset (all entries when the server sets no mode)."""
    found: list[Json] = []
    for entry in items(bundle.get("entry")):
        if not isinstance(entry, Mapping):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, Mapping) else None
        if mode not in (None, "match"):
            continue
        if resource_type is None or resource.get("resourceType") == resource_type:
            found.append(resource)
    return found


def match_entries(bundle: Mapping[str, Any]) -> list[tuple[Json, float | None, MatchGrade | None]]:
    """The Patients of a `$match` answer with their score and match-grade."""
    found: list[tuple[Json, float | None, MatchGrade | None]] = []
    for entry in items(bundle.get("entry")):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        if resource.get("resourceType") != "Patient":
            continue
        search = entry.get("search") if isinstance(entry.get("search"), Mapping) else {}
        assert isinstance(search, Mapping)
        raw_score = search.get("score")
        score = float(raw_score) if isinstance(raw_score, int | float) and 0 <= raw_score <= 1 else None
        grade: MatchGrade | None = None
        for ext in items(search.get("extension")):
            if isinstance(ext, Mapping) and ext.get("url") == MATCH_GRADE_URL:
                try:
                    grade = MatchGrade(str(ext.get("valueCode")))
                except ValueError:
                    grade = None
        found.append((resource, score, grade))
    return found


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in items(bundle.get("link")):
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def bundle_total(bundle: Mapping[str, Any]) -> int | None:
    total = bundle.get("total")
    return total if isinstance(total, int) and total >= 0 else None
