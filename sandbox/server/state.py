"""What one running sandbox knows, and the operations its routes share: documents, events and consent.

Documents are made and signed the first time someone asks for them and stored from then on, so what is served
again is byte for byte what was signed (and a stored document changed behind the server's back fails
verification). Appointments and referrals are rebuilt from the person's seed-derived plan plus their stored status.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import orjson

from lookup.fhir.documents import LOINC
from lookup.trust.signatures import sign_document
from sandbox.server.auth import Authority
from sandbox.server.config import SandboxConfig
from sandbox.server.facility_keys import FacilityKeys
from sandbox.server.matcher import Matching
from sandbox.server.queue import with_queue
from sandbox.server.storage import Store, StoredPatient
from sandbox.synthetic import clinical
from sandbox.synthetic.departments import DEPARTMENTS_BY_CODE
from sandbox.synthetic.documents import appointment_resource, person_documents, service_request_resource
from sandbox.synthetic.facilities import FACILITIES_BY_CODE

Json = dict[str, Any]


class SandboxState:
    """The store, the clients, the matcher, the facilities' signing keys and the date documents are anchored to."""

    def __init__(
        self,
        config: SandboxConfig,
        store: Store,
        authority: Authority,
        matching: Matching | None,
        keys: FacilityKeys,
    ) -> None:
        self.config = config
        self.store = store
        self.keys = keys
        signed_by = keys.fingerprint()
        if store.meta("signed_by") != signed_by:
            # Stored documents were signed with other keys (made before these, or the key file was replaced):
            # they would no longer verify, so they are made again with these.
            store.forget_documents()
            store.set_meta("signed_by", signed_by)
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
        key, kid = self.keys.signing_key(code), self.keys.kid(code)
        return sign_document(document, key, kid, facility=facility.display, when=when)

    # -- appointments and referrals ---------------------------------------------------------------------------
    def _plan(self, patient: StoredPatient) -> clinical.Events | None:
        if patient.synthetic_index is None or patient.province_code is None:
            return None
        return clinical.events(patient.synthetic_index, self.config.seed, patient.province_code)

    def appointment(self, patient: StoredPatient, number: int, status: str) -> Json | None:
        plan = self._plan(patient)
        if plan is None or number >= len(plan.appointments):
            return None
        resource = appointment_resource(plan.appointments[number], patient.id, self.today, status)
        arrival = self.store.visit(f"Appointment/{resource['id']}") if status == "arrived" else None
        if arrival is None:
            return resource
        _, day, department, queued, _ = arrival
        return with_queue(resource, DEPARTMENTS_BY_CODE[department], queued, self.today + dt.timedelta(days=day))

    def service_request(self, patient: StoredPatient, request_id: str, status: str) -> Json | None:
        plan = self._plan(patient)
        found = next((r for r in plan.referrals if r.id == request_id), None) if plan else None
        return None if found is None else service_request_resource(found, patient.id, self.today, status)

    def day_offset(self, day: dt.date) -> int:
        return (day - self.today).days

    # -- consent (the audit trail is `sandbox.server.audit`'s) ------------------------------------------------
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
