"""The kiosk's own audit trail: one FHIR AuditEvent per lookup, delivered by an idempotent `PUT AuditEvent/{uuid}`.

The uuid is made once, when the event is built, so a retry or a second delivery from the outbox replaces the same
resource on the server instead of adding one. Events say who asked (the kiosk's client id and mode, and the staff
member signed in), about whom (a Patient reference, never a name or number), why (ETREAT or BTG with the reason) and
how it ended.

With a staff member signed in, the person is the requestor agent (`who.identifier` in `STAFF_SYSTEM`) beside the
kiosk's own agent, and the requestor also carries the person and how their PIN was checked (`server`, or `offline`
on this kiosk) as extensions: a server that stamps a delivered event with the agents of the delivering token (the
reference server does) keeps the requestor's extensions, so an event queued offline still says who acted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from lookup.domain.staff import StaffMember

PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TREATMENT = "ETREAT"
"""Purpose of use for normal emergency care."""
BREAK_GLASS = "BTG"
"""Purpose of use when staff break the glass for a patient who has not consented."""
PURPOSE_HEADER = "X-Purpose-Of-Use"
REASON_HEADER = "X-Break-Glass-Reason"
"""The break-glass reason, URL-encoded, sent with `BREAK_GLASS`."""
AUDIT_EVENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
DICOM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
STAFF_SYSTEM = "urn:kiosk:staff"
"""The system of a staff member's identifier in the kiosk's events (and the URL of the extension naming them)."""
STAFF_VERIFIED_URL = "urn:kiosk:staff-verified"
_HUMAN_USER = {
    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
    "code": "humanuser",
    "display": "human user",
}
AUDIT_KIND = "audit"
CHECK_IN_KIND = "check-in"
REGISTRATION_KIND = "registration"
LINK_KIND = "link"
UNLINK_KIND = "unlink"
DUPLICATE_KIND = "duplicate-decision"
"""A staff member's decision that two Patients are one person, sent as a FHIR Linkage."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The header that carries a message's idempotency key on every delivery; a server may recognise a repeat by it (the
reference server does for identity links and undos, whose request names no resource id of the kiosk's making)."""

Action = Literal["lookup", "search", "open", "break-glass", "check-in", "shl"]
Result = Literal[
    "success",
    "not-found",
    "consent-required",
    "failed",
    "offline",
    "wrong-patient",
    "identity-mismatch",
    "identity-confirmed",
]
"""`wrong-patient`: the server answered about another person and the kiosk refused the answer (a serious failure).
`identity-mismatch`: a card's identifier found a record whose name, birth date or sex are not the card's, and nothing
opened; `identity-confirmed`: a staff member then confirmed that record is the person and opened it."""
_OUTCOME_CODE = {
    "success": "0",
    "not-found": "0",
    "consent-required": "4",
    "offline": "8",
    "failed": "8",
    "wrong-patient": "8",
    "identity-mismatch": "4",
    "identity-confirmed": "0",
}
_SUBTYPE = {
    "lookup": ("search", "search"),
    "search": ("search", "search"),
    "open": ("read", "read"),
    "break-glass": ("read", "read"),
    "check-in": ("update", "update"),
    "shl": ("read", "read"),
}


class Delivery(BaseModel):
    """One message of the outbox: the idempotent request that delivers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["PUT", "POST"] = "PUT"
    """POST only for a create the server makes idempotent by the resource's own identifier (an unknown patient's
    temporary number)."""
    path: str
    body: dict[str, Any]

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump())

    @classmethod
    def decode(cls, payload: bytes) -> Delivery:
        return cls.model_validate(orjson.loads(payload))


def audit_event(
    *,
    action: Action,
    result: Result,
    client_id: str | None,
    mode: str,
    patient_id: str | None = None,
    break_glass: bool = False,
    reason: str | None = None,
    event_id: str | None = None,
    now: dt.datetime | None = None,
    staff: StaffMember | None = None,
) -> dict[str, Any]:
    """An R4 AuditEvent for one kiosk action, naming the staff member signed in when there is one."""
    event_id = event_id or str(uuid.uuid4())
    recorded = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds")
    code, display = _SUBTYPE[action]
    purpose = BREAK_GLASS if break_glass else TREATMENT
    agent: dict[str, Any] = {
        "type": {
            "coding": [
                {
                    "system": DICOM_SYSTEM,
                    "code": "110153",
                    "display": "Source Role ID",
                }
            ]
        },
        "who": {"identifier": {"system": "urn:kiosk:client", "value": client_id or "anonymous-kiosk"}},
        "requestor": staff is None,
    }
    agents = [agent]
    if staff is not None:
        agent = {
            "type": {"coding": [_HUMAN_USER]},
            "who": {"identifier": {"system": STAFF_SYSTEM, "value": staff.staff_id}, "display": staff.staff_id},
            "requestor": True,
            "extension": [
                {"url": STAFF_SYSTEM, "valueString": staff.staff_id},
                {"url": STAFF_VERIFIED_URL, "valueCode": staff.verified},
            ],
        }
        agents.append(agent)
    agent["purposeOfUse"] = [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event_id,
        "type": {
            "system": AUDIT_EVENT_TYPE_SYSTEM,
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": RESTFUL_INTERACTION_SYSTEM, "code": code, "display": display}],
        "action": "R" if action != "check-in" else "U",
        "recorded": recorded,
        "outcome": _OUTCOME_CODE[result],
        "outcomeDesc": f"{action}: {result}",
        "purposeOfEvent": [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}],
        "agent": agents,
        "source": {"observer": {"display": f"kiosk ({mode})"}, "type": [{"code": "1", "display": "User Device"}]},
    }
    if patient_id is not None:
        event["entity"] = [
            {"what": {"reference": f"Patient/{patient_id}"}, "role": {"code": "1", "display": "Patient"}}
        ]
    if break_glass and reason:
        agent.setdefault("extension", []).append({"url": "urn:kiosk:break-glass-reason", "valueString": reason})
    return event


def audit_delivery(event: dict[str, Any]) -> Delivery:
    return Delivery(path=f"AuditEvent/{event['id']}", body=event)
