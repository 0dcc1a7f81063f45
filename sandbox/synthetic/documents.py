"""A synthetic person's shared facility documents: FHIR `document` Bundles, Composition first, before signing.

One e-health book (60591-5: allergies, problems, blood type), one medical record per visit (34133-9: the encounter,
its diagnosis and that day's lab results, so results form series over time), e-prescriptions for the latest visits
(57833-6), referral papers (57133-1, carrying the same ServiceRequest the server serves) and re-examination
appointments (56446-8, the same Appointment). Entries have absolute `fullUrl`s under one document base, so the
relative references inside (`Patient/p1`, `Organization/01929`) resolve within the Bundle as FHIR prescribes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from lookup.domain.model import DocumentType
from lookup.fhir.documents import LOINC
from sandbox.synthetic import clinical
from sandbox.synthetic.clinical import AppointmentPlan, Coded, Events, ReferralPlan
from sandbox.synthetic.departments import coded, department_for
from sandbox.synthetic.facilities import Facility

Json = dict[str, Any]
DOCUMENT_BASE: Final = "https://hssk.sandbox.invalid/fhir"
FACILITY_SYSTEM: Final = "http://fhir.hl7.org.vn/core/sid/facility"
_NAMESPACE: Final = uuid.UUID("6f1c4c1e-4a53-4b8e-9d1e-5b0c0f6a2d11")
_TZ: Final = dt.timezone(dt.timedelta(hours=7))
_EMPTY_REASON: Final = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
_INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DOC_TITLES: Final[dict[DocumentType, str]] = {
    DocumentType.PATIENT_SUMMARY: "Sổ sức khỏe điện tử",
    DocumentType.EPISODE_SUMMARY: "Bệnh án điện tử (tóm tắt lần khám)",
    DocumentType.PRESCRIPTION: "Đơn thuốc điện tử",
    DocumentType.REFERRAL: "Giấy chuyển tuyến",
    DocumentType.APPOINTMENT: "Giấy hẹn khám lại",
}
_DOC_DISPLAY: Final[dict[DocumentType, str]] = {
    DocumentType.PATIENT_SUMMARY: "Patient summary Document",
    DocumentType.EPISODE_SUMMARY: "Summary of episode note",
    DocumentType.PRESCRIPTION: "Prescription for medication",
    DocumentType.REFERRAL: "Referral note",
    DocumentType.APPOINTMENT: "Appointment summary Document",
}


def _coding(code: Coded) -> Json:
    return {"coding": [{"system": code.system, "code": code.code, "display": code.display}], "text": code.display}


def _ref(resource: Json) -> Json:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def organization(facility: Facility) -> Json:
    return {
        "resourceType": "Organization",
        "id": facility.code,
        "identifier": [{"system": FACILITY_SYSTEM, "value": facility.code}],
        "name": facility.name,
    }


def _org_ref(facility: Facility) -> Json:
    return {
        "reference": f"Organization/{facility.code}",
        "display": facility.name,
        "identifier": {"system": FACILITY_SYSTEM, "value": facility.code},
    }


def appointment_resource(plan: AppointmentPlan, patient_id: str, today: dt.date, status: str | None = None) -> Json:
    day = today + dt.timedelta(days=plan.day)
    start = dt.datetime.combine(day, dt.time(plan.minute // 60, plan.minute % 60), _TZ)
    return {
        "resourceType": "Appointment",
        "id": plan.id,
        "status": status or plan.status,
        "serviceType": [{"text": "Khám lại"}],
        "reasonCode": [_coding(plan.condition)],
        "description": f"Tái khám: {plan.condition.display}",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=15)).isoformat(),
        "specialty": [coded(department_for(plan.id))],
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {
                "actor": {"reference": f"Organization/{plan.facility.code}", "display": plan.facility.name},
                "status": "accepted",
            },
        ],
    }


def service_request_resource(plan: ReferralPlan, patient_id: str, today: dt.date, status: str | None = None) -> Json:
    return {
        "resourceType": "ServiceRequest",
        "id": plan.id,
        "status": status or plan.status,
        "intent": "order",
        "category": [{"text": "Chuyển tuyến"}],
        "code": {"text": f"Chuyển tuyến khám và điều trị: {plan.condition.display}"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": (today + dt.timedelta(days=plan.day)).isoformat(),
        "requester": _org_ref(plan.source),
        "performer": [_org_ref(plan.target)],
        "reasonCode": [_coding(plan.condition)],
    }


class _Writer:
    """Builds the documents of one person, numbering them and their resources."""

    def __init__(self, patient: Json, today: dt.date) -> None:
        self.patient = patient
        self.pid = str(patient["id"])
        self.today = today
        self.documents: list[Json] = []

    def day(self, offset: int) -> str:
        return (self.today + dt.timedelta(days=offset)).isoformat()

    def document(
        self,
        doc_type: DocumentType,
        facility: Facility,
        offset: int,
        sections: Sequence[tuple[str, str, list[Json]]],
        empty: Mapping[str, str] | None = None,
    ) -> None:
        """One document; `empty` gives the emptyReason (`nilknown`...) of sections, by code, that have no entry."""
        doc_id = f"d{self.pid[1:] if self.pid.startswith('p') else self.pid}-{len(self.documents)}"
        moment = dt.datetime.combine(self.today + dt.timedelta(days=offset), dt.time(9, 0), _TZ).isoformat()
        org = organization(facility)
        composition: Json = {
            "resourceType": "Composition",
            "id": f"c{doc_id[1:]}",
            "status": "final",
            "type": {
                "coding": [{"system": LOINC, "code": doc_type.value, "display": _DOC_DISPLAY[doc_type]}],
                "text": DOC_TITLES[doc_type],
            },
            "subject": {"reference": f"Patient/{self.pid}"},
            "date": moment,
            "author": [_org_ref(facility)],
            "custodian": _org_ref(facility),
            "title": DOC_TITLES[doc_type],
            "section": [
                {
                    "title": title,
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    **(
                        {"entry": [_ref(r) for r in resources]}
                        if resources
                        else {"emptyReason": {"coding": [{"system": _EMPTY_REASON, "code": (empty or {})[code]}]}}
                    ),
                }
                for title, code, resources in sections
                if resources or code in (empty or {})
            ],
        }
        if not composition["section"]:
            del composition["section"]
        resources = [composition, self.patient, org]
        for _, _, items in sections:
            resources.extend(items)
        self.documents.append(
            {
                "resourceType": "Bundle",
                "id": doc_id,
                "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, doc_id)}"},
                "type": "document",
                "timestamp": moment,
                "entry": [
                    {"fullUrl": f"{DOCUMENT_BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
                ],
            }
        )

    def subject(self) -> Json:
        return {"reference": f"Patient/{self.pid}"}


def _condition(w: _Writer, rid: str, code: Coded, offset: int) -> Json:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "code": _coding(code),
        "subject": w.subject(),
        "recordedDate": w.day(offset),
    }


def _lab(w: _Writer, rid: str, result: clinical.LabResult) -> Json:
    test = result.test
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": test.code, "display": test.name}], "text": test.name},
        "subject": w.subject(),
        "effectiveDateTime": w.day(result.day),
        "valueQuantity": {
            "value": result.value,
            "unit": test.unit,
            "system": "http://unitsofmeasure.org",
            "code": test.ucum,
        },
        "interpretation": [{"coding": [{"system": _INTERPRETATION, "code": _interpretation(result)}]}],
        "referenceRange": [
            {
                **({"low": _quantity(test, test.range_low)} if test.range_low is not None else {}),
                "high": _quantity(test, test.range_high),
            }
        ],
    }


def _quantity(test: clinical.LabTest, value: float) -> Json:
    return {"value": value, "unit": test.unit, "system": "http://unitsofmeasure.org", "code": test.ucum}


def _interpretation(result: clinical.LabResult) -> str:
    if result.value > result.test.range_high:
        return "H"
    if result.test.range_low is not None and result.value < result.test.range_low:
        return "L"
    return "N"


def person_documents(patient: Json, index: int, seed: int, plan: Events, today: dt.date) -> list[Json]:
    """Every shared document of the person (unsigned), in a fixed order."""
    w = _Writer(patient, today)
    book = clinical.book(index, seed, plan)
    home = plan.visits[0].facility
    latest = plan.visits[-1].day
    allergies = [
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{w.pid}-al{n}",
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
                ]
            },
            "code": _coding(allergen),
            "criticality": criticality,
            "patient": w.subject(),
            "recordedDate": w.day(plan.visits[0].day),
            "reaction": _reaction(allergen),
        }
        for n, (allergen, criticality) in enumerate(book.allergies)
    ]
    if book.allergies_stated == "entry":
        allergies.append(
            {
                "resourceType": "AllergyIntolerance",
                "id": f"{w.pid}-nka",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": _coding(clinical.NO_KNOWN_ALLERGY),
                "patient": w.subject(),
                "recordedDate": w.day(plan.visits[0].day),
            }
        )
    problems = [_condition(w, f"{w.pid}-pr{n}", c, plan.visits[0].day) for n, c in enumerate(plan.conditions)]
    blood = {
        "resourceType": "Observation",
        "id": f"{w.pid}-abo",
        "status": "final",
        "code": {
            "coding": [{"system": LOINC, "code": "882-1", "display": "ABO and Rh group"}],
            "text": "Nhóm máu",
        },
        "subject": w.subject(),
        "effectiveDateTime": w.day(plan.visits[0].day),
        "valueCodeableConcept": {"text": book.blood_type},
    }
    w.document(
        DocumentType.PATIENT_SUMMARY,
        home,
        latest,
        [("Dị ứng", "48765-2", allergies), ("Bệnh mạn tính", "11450-4", problems), ("Nhóm máu", "30954-2", [blood])],
        empty={"48765-2": "nilknown"} if book.allergies_stated == "nilknown" else None,
    )
    for visit in plan.visits:
        encounter = {
            "resourceType": "Encounter",
            "id": f"{w.pid}-en{visit.number}",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "subject": w.subject(),
            "period": {"start": w.day(visit.day), "end": w.day(visit.day)},
            "reasonCode": [_coding(visit.condition)],
            "serviceProvider": _org_ref(visit.facility),
        }
        diagnosis = _condition(w, f"{w.pid}-dx{visit.number}", visit.condition, visit.day)
        labs = [
            _lab(w, f"{w.pid}-lab{visit.number}-{n}", r)
            for n, r in enumerate(r for r in book.labs if r.day == visit.day)
        ]
        w.document(
            DocumentType.EPISODE_SUMMARY,
            visit.facility,
            visit.day,
            [
                ("Lần khám", "46240-8", [encounter]),
                ("Chẩn đoán", "29548-5", [diagnosis]),
                ("Xét nghiệm", "30954-2", labs),
            ],
        )
    allergic_to_aspirin = any(a.code == clinical.ASPIRIN[0].code or a.display == "Aspirin" for a, _ in book.allergies)
    at_risk = any(c.code in clinical.CARDIOVASCULAR_RISK for c in plan.conditions)
    for visit in plan.visits[-2:]:
        drugs = [clinical.MEDICATIONS[c.code] for c in plan.conditions]
        if allergic_to_aspirin and at_risk and visit.day == latest and clinical.ASPIRIN not in drugs:
            # A prescribing slip the sandbox keeps on purpose: aspirin for someone allergic to it.
            drugs.append(clinical.ASPIRIN)
        requests = [
            _prescription(w, f"{w.pid}-rx{visit.number}-{n}", medication, dosage, visit, latest)
            for n, (medication, dosage) in enumerate(drugs)
        ]
        if visit.number % 2 == 0:
            medication, dosage = clinical.ACUTE
            requests.append(
                _prescription(w, f"{w.pid}-rx{visit.number}-a", medication, dosage, visit, latest, acute=True)
            )
        w.document(DocumentType.PRESCRIPTION, visit.facility, visit.day, [("Thuốc", "10160-0", requests)])
    for referral in plan.referrals:
        request = service_request_resource(referral, w.pid, today)
        w.document(DocumentType.REFERRAL, referral.source, referral.day, [("Lý do chuyển tuyến", "42349-1", [request])])
    for appointment in plan.appointments:
        booked = appointment_resource(appointment, w.pid, today)
        w.document(
            DocumentType.APPOINTMENT,
            appointment.facility,
            min(appointment.day, 0) - 1,
            [("Hẹn khám", "18776-5", [booked])],
        )
    return w.documents


def _reaction(allergen: Coded) -> list[Json]:
    sign, severity = clinical.REACTIONS.get(allergen.code, ("Phát ban", "mild"))
    return [{"manifestation": [{"text": sign}], "severity": severity}]


def _prescription(
    w: _Writer, rid: str, medication: Coded, dosage: str, visit: clinical.Visit, latest: int, *, acute: bool = False
) -> Json:
    days = clinical.ACUTE_SUPPLY_DAYS if acute else clinical.CHRONIC_SUPPLY_DAYS
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active" if visit.day == latest else "completed",
        "intent": "order",
        "medicationCodeableConcept": _coding(medication),
        "subject": w.subject(),
        "authoredOn": w.day(visit.day),
        "requester": _org_ref(visit.facility),
        "dosageInstruction": [{"text": dosage}],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": days,
                "unit": "ngày",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            }
        },
    }
