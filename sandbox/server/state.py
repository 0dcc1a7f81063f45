"""What one running sandbox knows, and the operations its routes share: documents, events, consent and audit.

Documents are made and signed the first time someone asks for them and stored from then on, so what is served
again is byte for byte what was signed (and a stored document changed behind the server's back fails
verification). Appointments and referrals are rebuilt from the person's seed-derived plan plus their stored status.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import orjson

from lookup.fhir.documents import LOINC
from lookup.service.audit import AUDIT_EVENT_TYPE_SYSTEM, BREAK_GLASS, PURPOSE_SYSTEM, RESTFUL_INTERACTION_SYSTEM
from lookup.trust.signatures import sign_document
from sandbox.server.auth import Authority
from sandbox.server.config import SandboxConfig
from sandbox.server.matcher import Matching
from sandbox.server.storage import Store, StoredPatient
from sandbox.synthetic import clinical
from sandbox.synthetic.documents import appointment_resource, person_documents, service_request_resource
from sandbox.synthetic.facilities import FACILITIES_BY_CODE, facility_key

Json = dict[str, Any]


class SandboxState:
    """The store, the clients, the matcher and the date documents are anchored to."""

    def __init__(self, config: SandboxConfig, store: Store, authority: Authority, matching: Matching | None) -> None:
        self.config = config
        self.store = store
        self.authority = authority
        self.matching = matching
        anchor = store.meta("anchor")
        self.today = dt.date.fromisoformat(anchor) if anchor else dt.date.today()
        self._documents_lock = threading.Lock()

    # -- documents --------------------------------------------------------------------------------------------
    def documents(self, patient: StoredPatient) -> list[Json]:
        """The patient's signed documents (none for imported patients and people without shared records)."""
        if not patient.has_documents or patient.synthetic_index is None or patient.province_code is None:
            return []
        stored = self.store.documents_of(patient.rid)
        if stored is not None:
            return stored
        with self._documents_lock:
            stored = self.store.documents_of(patient.rid)
            if stored is not None:
                return stored
            plan = clinical.events(patient.synthetic_index, self.config.seed, patient.province_code)
            made = person_documents(patient.resource, patient.synthetic_index, self.config.seed, plan, self.today)
            signed = [self._sign(document) for document in made]
            self.store.save_documents(
                patient.rid,
                [(d["id"], d["entry"][0]["resource"]["type"]["coding"][0]["code"], orjson.dumps(d)) for d in signed],
            )
            return signed

    def _sign(self, document: Json) -> Json:
        code = document["entry"][0]["resource"]["custodian"]["identifier"]["value"]
        facility = FACILITIES_BY_CODE[code]
        when = dt.datetime.fromisoformat(document["timestamp"])
        return sign_document(
            document, facility_key(code, self.config.seed), facility.kid, facility=facility.display, when=when
        )

    # -- appointments and referrals ---------------------------------------------------------------------------
    def _plan(self, patient: StoredPatient) -> clinical.Events | None:
        if patient.synthetic_index is None or patient.province_code is None:
            return None
        return clinical.events(patient.synthetic_index, self.config.seed, patient.province_code)

    def appointment(self, patient: StoredPatient, number: int, status: str) -> Json | None:
        plan = self._plan(patient)
        if plan is None or number >= len(plan.appointments):
            return None
        return appointment_resource(plan.appointments[number], patient.id, self.today, status)

    def service_request(self, patient: StoredPatient, request_id: str, status: str) -> Json | None:
        plan = self._plan(patient)
        found = next((r for r in plan.referrals if r.id == request_id), None) if plan else None
        return None if found is None else service_request_resource(found, patient.id, self.today, status)

    def day_offset(self, day: dt.date) -> int:
        return (day - self.today).days

    # -- consent and audit ------------------------------------------------------------------------------------
    def consent(self, patient: StoredPatient) -> Json:
        return {
            "resourceType": "Consent",
            "id": f"consent-{patient.id}",
            "status": "active" if patient.consent else "inactive",
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]}],
            "patient": {"reference": f"Patient/{patient.id}"},
            "dateTime": f"{self.today.isoformat()}T00:00:00+07:00",
            "policyRule": {"text": "Chia sẻ dữ liệu sức khỏe qua VNeID"},
            "provision": {"type": "permit" if patient.consent else "deny"},
        }

    def record_release(self, client_id: str, patient_id: str, purpose: str, reason: str | None, what: str) -> str:
        """Record a server-side AuditEvent for a released summary; break-glass is flagged in purposeOfEvent."""
        event_id = str(uuid.uuid4())
        recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        event: Json = {
            "resourceType": "AuditEvent",
            "id": event_id,
            "type": {"system": AUDIT_EVENT_TYPE_SYSTEM, "code": "rest"},
            "subtype": [{"system": RESTFUL_INTERACTION_SYSTEM, "code": "read", "display": what}],
            "action": "R",
            "recorded": recorded,
            "outcome": "0",
            "purposeOfEvent": [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}],
            "agent": [
                {
                    "who": {"display": client_id},
                    "requestor": True,
                    "purposeOfUse": [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}],
                }
            ],
            "source": {"observer": {"display": "kiosk sandbox coordination server"}},
            "entity": [{"what": {"reference": f"Patient/{patient_id}"}}],
        }
        if purpose == BREAK_GLASS:
            event["entity"][0]["detail"] = [{"type": "break-glass-reason", "valueString": reason or ""}]
        self.store.put_audit(event_id, patient_id, recorded, orjson.dumps(event))
        return event_id
