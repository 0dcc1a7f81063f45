"""Signed facility documents (FHIR `document` Bundles) -> the sections of a PatientSummary, each item carrying the
provenance of the document it came from (facility, type, date, signature status).

Items are read by resource type rather than by Composition section code, so documents that file an allergy under an
unusual section still show it. Resources fetched one by one (from a server that keeps no documents) are unsigned.
What an empty section means, the critical facts, current medication and drug-allergy alerts are read by
`lookup.fhir.clinical` and `lookup.fhir.alerts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lookup.domain.model import (
    SUMMARY_SECTIONS,
    Appointment,
    CriticalFact,
    DocumentInfo,
    DocumentType,
    Observation,
    PatientRecord,
    PatientSummary,
    Provenance,
    Referral,
    SectionState,
    SignatureCheck,
    SignatureStatus,
    SummaryItem,
)
from lookup.fhir.alerts import drug_allergy_alerts
from lookup.fhir.clinical import (
    allergy_item,
    allergy_rank,
    critical_fact,
    lab_flag,
    none_known,
    prescription_current,
    reconciled,
    reference_range,
    section_states,
    stronger,
    withheld,
)
from lookup.fhir.primitives import code_of, items, parse_date, parse_datetime, text_of
from lookup.fhir.references import entry_index, target

LOINC = "http://loinc.org"
BLOOD_GROUP_CODES = frozenset({"882-1", "883-9", "34474-7"})
Json = dict[str, Any]


def resources(bundle: Mapping[str, Any]) -> list[Json]:
    return [
        e["resource"]
        for e in items(bundle.get("entry"))
        if isinstance(e, Mapping) and isinstance(e.get("resource"), dict)
    ]


def composition_of(bundle: Mapping[str, Any]) -> Json | None:
    entries = resources(bundle)
    if entries and entries[0].get("resourceType") == "Composition":
        return entries[0]
    return None


def split_summary(bundle: Mapping[str, Any]) -> tuple[Json | None, list[Json]]:
    """The Patient and the document Bundles of a `$summary` answer: a collection of documents, or one document."""
    if bundle.get("type") == "document":
        patient = next((r for r in resources(bundle) if r.get("resourceType") == "Patient"), None)
        return patient, [dict(bundle)]
    patient = None
    documents: list[Json] = []
    for resource in resources(bundle):
        if resource.get("resourceType") == "Patient" and patient is None:
            patient = resource
        elif resource.get("resourceType") == "Bundle" and resource.get("type") == "document":
            documents.append(resource)
    return patient, documents


def _resolve(ref: Any, index: Mapping[str, Json]) -> Json | None:
    found = target(ref, index)
    return found.resource if found is not None else None


def _facility(composition: Mapping[str, Any], index: Mapping[str, Json]) -> tuple[str | None, str | None]:
    """The facility a document comes from, as (code, name): its custodian, else its first author that is an
    Organization. A practitioner or device author is never taken for a facility."""
    candidates = [composition.get("custodian"), *(items(composition.get("author")))]
    for ref in candidates:
        if not isinstance(ref, Mapping):
            continue
        named = target(ref, index)
        if named is not None and named.type not in (None, "Organization"):
            continue
        org = named.resource if named is not None else None
        code: str | None = None
        name: str | None = ref.get("display") if isinstance(ref.get("display"), str) else None
        ident = ref.get("identifier")
        if isinstance(ident, Mapping) and isinstance(ident.get("value"), str):
            code = ident["value"]
        if org is not None:
            for raw in items(org.get("identifier")):
                if isinstance(raw, Mapping) and isinstance(raw.get("value"), str):
                    code = code or raw["value"]
                    break
            if isinstance(org.get("name"), str):
                name = org["name"]
        if code or name:
            return code, name
    return None, None


def document_facility(bundle: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The (code, name) of the facility a document is shown as coming from: its custodian, else its first
    Organization author. A signature is bound to this facility (`lookup.service.binding`)."""
    return _facility(composition_of(bundle) or {}, entry_index(bundle))


def _doc_type(composition: Mapping[str, Any] | None) -> DocumentType:
    code = code_of(composition.get("type"), LOINC) if composition else None
    try:
        return DocumentType(code) if code else DocumentType.OTHER
    except ValueError:
        return DocumentType.OTHER


def document_info(bundle: Mapping[str, Any], check: SignatureCheck) -> tuple[DocumentInfo, Provenance]:
    composition = composition_of(bundle) or {}
    index = entry_index(bundle)
    code, name = _facility(composition, index)
    if check.status is SignatureStatus.VALID and check.issuer and not (code or name):
        name = check.issuer
    doc_id = str(bundle.get("id") or composition.get("id") or "")
    date = parse_date(composition.get("date")) or parse_date(bundle.get("timestamp"))
    doc_type = _doc_type(composition)
    title = composition.get("title") if isinstance(composition.get("title"), str) else ""
    info = DocumentInfo(
        id=doc_id,
        type=doc_type,
        title=title or "",
        facility_code=code,
        facility_name=name,
        date=date,
        signature=check,
    )
    provenance = Provenance(
        facility_code=code,
        facility_name=name,
        document_id=doc_id or None,
        document_type=doc_type,
        date=date,
        signature=check.status,
    )
    return info, provenance


@dataclass
class _Sections:
    """Items gathered section by section, before they become the frozen summary."""

    allergies: list[SummaryItem] = field(default_factory=list)
    problems: list[SummaryItem] = field(default_factory=list)
    medications: list[SummaryItem] = field(default_factory=list)
    prescriptions: list[SummaryItem] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    encounters: list[SummaryItem] = field(default_factory=list)
    immunizations: list[SummaryItem] = field(default_factory=list)
    blood_type: list[SummaryItem] = field(default_factory=list)
    results: list[Observation] = field(default_factory=list)
    critical: list[CriticalFact] = field(default_factory=list)
    current: list[SummaryItem] = field(default_factory=list)
    """Active e-prescriptions still within their validity: current medication even where no statement says so."""
    states: dict[str, SectionState] = field(default_factory=dict)
    """What sources stated about sections they left empty (none known, withheld)."""
    withheld_unnamed: bool = False
    today: dt.date = field(default_factory=dt.date.today)

    def state(self, name: str, said: SectionState) -> None:
        self.states[name] = stronger(self.states.get(name), said)


def _medication_text(resource: Mapping[str, Any], index: Mapping[str, Json]) -> str | None:
    text = text_of(resource.get("medicationCodeableConcept"))
    if text is None:
        medication = _resolve(resource.get("medicationReference"), index)
        if medication is not None:
            text = text_of(medication.get("code"))
        elif isinstance(resource.get("medicationReference"), Mapping):
            display = resource["medicationReference"].get("display")
            text = display if isinstance(display, str) else None
    return text


def _dosage(resource: Mapping[str, Any], key: str) -> str | None:
    for dosage in items(resource.get(key)):
        if isinstance(dosage, Mapping) and isinstance(dosage.get("text"), str):
            return str(dosage["text"])
    return None


def _observation(resource: Mapping[str, Any], prov: Provenance) -> Observation | None:
    concept = resource.get("code")
    code = code_of(concept) or ""
    name = text_of(concept)
    if not name:
        return None
    value: float | None = None
    value_text: str | None = None
    unit: str | None = None
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, Mapping) and isinstance(quantity.get("value"), int | float):
        value = float(quantity["value"])
        unit = quantity.get("unit") or quantity.get("code")
    elif isinstance(resource.get("valueString"), str):
        value_text = resource["valueString"]
    elif resource.get("valueCodeableConcept") is not None:
        value_text = text_of(resource.get("valueCodeableConcept"))
    if value is None and value_text is None:
        # A panel (hasMember) or an observation without a result: nothing to show or chart.
        return None
    date = parse_date(resource.get("effectiveDateTime")) or parse_date(resource.get("issued"))
    low, high, range_text = reference_range(resource)
    return Observation(
        code=code,
        name=name,
        value=value,
        value_text=value_text,
        unit=unit if isinstance(unit, str) else None,
        date=date,
        provenance=prov,
        low=low,
        high=high,
        range_text=range_text,
        flag=lab_flag(resource, value, low, high),
    )


def _add(resource: Mapping[str, Any], prov: Provenance, index: Mapping[str, Json], out: _Sections) -> None:
    kind = resource.get("resourceType")
    empty = none_known(resource)
    if empty is not None:
        # "No known allergy" is a statement about the section, never an allergy to list.
        out.state(empty, SectionState.NONE_KNOWN)
        return
    if kind == "AllergyIntolerance":
        allergy = allergy_item(resource, prov)
        if allergy is not None:
            out.allergies.append(allergy)
    elif kind == "OperationOutcome":
        sections = withheld(resource)
        if sections is not None:
            out.withheld_unnamed = out.withheld_unnamed or not sections
            for name in sections:
                out.state(name, SectionState.NOT_SHARED)
    elif kind in ("Device", "DeviceUseStatement", "Flag", "Consent"):
        fact = critical_fact(resource, index, prov)
        if fact is not None:
            out.critical.append(fact)
    elif kind == "Condition":
        text = text_of(resource.get("code"))
        if text:
            out.problems.append(
                SummaryItem(
                    text=text,
                    code=code_of(resource.get("code")),
                    detail=code_of(resource.get("clinicalStatus")),
                    date=parse_date(resource.get("onsetDateTime")) or parse_date(resource.get("recordedDate")),
                    provenance=prov,
                )
            )
    elif kind in ("MedicationStatement", "MedicationRequest"):
        text = _medication_text(resource, index)
        if text:
            request = kind == "MedicationRequest"
            item = SummaryItem(
                text=text,
                code=code_of(resource.get("medicationCodeableConcept")),
                detail=_dosage(resource, "dosageInstruction" if request else "dosage"),
                date=parse_date(resource.get("authoredOn"))
                or parse_date(resource.get("effectiveDateTime"))
                or parse_date((resource.get("effectivePeriod") or {}).get("start")),
                provenance=prov,
            )
            (out.prescriptions if request else out.medications).append(item)
            if request and prescription_current(resource, out.today):
                out.current.append(item.model_copy(update={"from_prescription": True}))
    elif kind == "Immunization":
        text = text_of(resource.get("vaccineCode"))
        if text:
            out.immunizations.append(
                SummaryItem(text=text, date=parse_date(resource.get("occurrenceDateTime")), provenance=prov)
            )
    elif kind == "Encounter":
        types = items(resource.get("type"))
        text = text_of(types[0]) if types else None
        klass = resource.get("class")
        text = text or (klass.get("display") or klass.get("code") if isinstance(klass, Mapping) else None)
        if text:
            reason = items(resource.get("reasonCode"))
            out.encounters.append(
                SummaryItem(
                    text=text,
                    detail=text_of(reason[0]) if reason else None,
                    date=parse_date((resource.get("period") or {}).get("start")),
                    provenance=prov,
                )
            )
    elif kind == "Observation":
        if code_of(resource.get("code"), LOINC) in BLOOD_GROUP_CODES:
            value = text_of(resource.get("valueCodeableConcept")) or resource.get("valueString")
            if isinstance(value, str):
                out.blood_type.append(
                    SummaryItem(
                        text=value,
                        code=code_of(resource.get("code")),
                        date=parse_date(resource.get("effectiveDateTime")),
                        provenance=prov,
                    )
                )
            return
        fact = critical_fact(resource, index, prov)
        if fact is not None:
            out.critical.append(fact)
            return
        observation = _observation(resource, prov)
        if observation is not None:
            out.results.append(observation)
    elif kind == "Appointment":
        start = parse_datetime(resource.get("start"))
        if start is not None and isinstance(resource.get("id"), str):
            try:
                out.appointments.append(appointment_of(resource, prov))
            except ValidationError:
                return
    elif kind == "ServiceRequest":
        referral = referral_of(resource, prov)
        if referral is not None:
            out.referrals.append(referral)


def _participant_name(resource: Mapping[str, Any]) -> str | None:
    for participant in items(resource.get("participant")):
        actor = participant.get("actor") if isinstance(participant, Mapping) else None
        if isinstance(actor, Mapping) and str(actor.get("reference", "")).startswith(("Location/", "Organization/")):
            display = actor.get("display")
            if isinstance(display, str):
                return display
    return None


def _department(resource: Mapping[str, Any]) -> str | None:
    """The department by its coded display only: the free text beside it could carry more than a department."""
    for concept in items(resource.get("specialty")):
        for coding in items(concept.get("coding") if isinstance(concept, Mapping) else None):
            display = coding.get("display") if isinstance(coding, Mapping) else None
            if isinstance(display, str) and display.strip():
                return display
    return None


def appointment_of(resource: Mapping[str, Any], prov: Provenance | None = None) -> Appointment:
    """An Appointment resource as the domain model; raises ValidationError or ValueError for an unusable one."""
    start = parse_datetime(resource.get("start"))
    if start is None:
        raise ValueError("an appointment without a start time")
    description = resource.get("description")
    if not isinstance(description, str):
        types = resource.get("serviceType") or resource.get("appointmentType")
        concept = types[0] if isinstance(types, list) and types else types
        description = text_of(concept) or ""
    return Appointment(
        id=str(resource.get("id")),
        start=start,
        status=resource.get("status"),
        description=description,
        facility_name=_participant_name(resource),
        department=_department(resource),
        provenance=prov or Provenance(),
    )


def referral_of(resource: Mapping[str, Any], prov: Provenance | None = None) -> Referral | None:
    reasons = items(resource.get("reasonCode"))
    reason = (text_of(reasons[0]) if reasons else None) or text_of(resource.get("code"))
    if not reason or not isinstance(resource.get("id"), str):
        return None
    requester = resource.get("requester") or {}
    performers = resource.get("performer") or [{}]
    status = resource.get("status")
    return Referral(
        id=resource["id"],
        reason=reason,
        from_facility=requester.get("display") if isinstance(requester, Mapping) else None,
        to_facility=performers[0].get("display") if isinstance(performers[0], Mapping) else None,
        date=parse_date(resource.get("authoredOn")),
        status=status if isinstance(status, str) else "active",
        provenance=prov or Provenance(),
    )


def summarize(
    patient: PatientRecord,
    documents: Sequence[tuple[Mapping[str, Any], SignatureCheck]],
    loose: Iterable[Mapping[str, Any]] = (),
    *,
    shared: Collection[str] | None = None,
    gaps: Mapping[str, SectionState] | None = None,
    today: dt.date | None = None,
) -> PatientSummary:
    """The summary of verified documents (newest first), plus loose resources fetched outside any document.

    `shared` names the sections the kiosk's scope may receive at all (reception: referrals); the others are
    `not-shared`. Each section's completeness comes from what the sources state (`lookup.fhir.clinical`), and from
    `gaps`: sections the server sent only part of (`incomplete`) or failed to answer for (`not-read`)."""
    out = _Sections(today=today or dt.date.today())
    for name, state in (gaps or {}).items():
        out.state(name, state)
    infos: list[DocumentInfo] = []
    for bundle, check in documents:
        info, prov = document_info(bundle, check)
        infos.append(info)
        index = entry_index(bundle)
        for name, state in section_states(composition_of(bundle) or {}).items():
            out.state(name, state)
        for resource in resources(bundle)[1:]:
            _add(resource, prov, index, out)
    unsigned = Provenance(signature=SignatureStatus.UNSIGNED)
    for item in loose:
        _add(item, unsigned, {}, out)
    infos.sort(key=lambda d: (d.date is not None, d.date), reverse=True)
    out.results.sort(key=lambda o: (o.date is not None, o.date), reverse=True)
    out.encounters.sort(key=lambda e: (e.date is not None, e.date), reverse=True)
    blood = out.blood_type[0] if out.blood_type else None
    if blood is not None:
        out.critical.insert(
            0, CriticalFact(kind="blood-type", text=blood.text, date=blood.date, provenance=blood.provenance)
        )
    medications = reconciled(out.medications, out.current)
    allergies = sorted(out.allergies, key=allergy_rank)
    for name in SUMMARY_SECTIONS:
        if (shared is not None and name not in shared) or out.withheld_unnamed:
            out.state(name, SectionState.NOT_SHARED)
    return PatientSummary(
        patient=patient,
        allergies=tuple(allergies),
        problems=tuple(out.problems),
        medications=medications,
        prescriptions=tuple(out.prescriptions),
        referrals=tuple(out.referrals),
        appointments=tuple(out.appointments),
        encounters=tuple(out.encounters),
        immunizations=tuple(out.immunizations),
        blood_type=blood,
        results=tuple(out.results),
        documents=tuple(infos),
        critical_facts=tuple(out.critical),
        alerts=drug_allergy_alerts(allergies, [*medications, *out.prescriptions]),
        completeness=out.states,
    )
