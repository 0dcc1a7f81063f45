"""The one FHIR Patient reader and writer: Patient -> PatientRecord / Demographics, and back for `$match`.

The client, the health-card parser and the reference server all read a Patient here, so a name means the same
everywhere. Servers differ in what they fill in; every reader here is lenient (a missing or malformed element is
skipped, never fatal) and strict about what it keeps (an identifier whose value does not fit its known system is
dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from lookup.domain.identifiers import IdentifierSystems
from lookup.domain.model import FHIR_ID, PHONE, Demographics, Identifier, PatientRecord, Sex
from lookup.domain.text import split_full_name
from lookup.fhir.primitives import items, parse_date

Json = dict[str, Any]


def identifiers_of(resource: Mapping[str, Any], systems: IdentifierSystems | None = None) -> tuple[Identifier, ...]:
    """The resource's identifiers; with `systems`, only those of a system that table knows."""
    found: list[Identifier] = []
    for raw in items(resource.get("identifier")):
        if not isinstance(raw, Mapping):
            continue
        system, value = raw.get("system"), raw.get("value")
        if not isinstance(system, str) or not isinstance(value, str):
            continue
        if systems is not None and systems.kind(system) is None:
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
            fields["family"], fields["middle"], fields["given"] = split_full_name(name["text"])
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
            if isinstance(value, str) and PHONE.match(value):
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
    if not isinstance(pid, str) or not FHIR_ID.fullmatch(pid):
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
