"""The audit trail: the events the server writes itself, and the kiosks' own trails it keeps beside them.

The server writes one AuditEvent for every answer that shows something about a patient (an identity found, an
appointment, a referral, a summary, documents, a consent), one per patient shown, and one for every refusal and
every break-glass. Who acted is taken from the bearer token alone: an agent for the client (its id and role) and,
when the token names one, an agent for the staff member at the kiosk, the requestor. The patient is an entity (a
reference, never a name or number); what was shown and how it ended are `subtype`, `outcome` and `outcomeDesc`;
a break-glass reason is an entity detail (read only by the admin role).

A client's `PUT AuditEvent/{id}` is kept as that kiosk's own local trail, never as evidence of who it was: the
agents it names are replaced by the token's client and staff member (the kiosk's purpose of use and break-glass
reason extension are kept on the requestor), and the observer is the token's client. Each event is tagged with its
origin (`meta.tag`, `ORIGIN_SYSTEM`: `server` or `client-trail`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from lookup.service.audit import AUDIT_EVENT_TYPE_SYSTEM, BREAK_GLASS, DICOM_SYSTEM, PURPOSE_SYSTEM
from lookup.service.audit import RESTFUL_INTERACTION_SYSTEM as INTERACTION_SYSTEM
from sandbox.server.auth import Grant
from sandbox.server.fhir import local_id
from sandbox.server.storage import Store

Json = dict[str, Any]
ORIGIN_SYSTEM: Final = "https://hssk.sandbox.invalid/fhir/CodeSystem/audit-origin"
SERVER_ORIGIN: Final = "server"
CLIENT_ORIGIN: Final = "client-trail"
CLIENT_SYSTEM: Final = "https://hssk.sandbox.invalid/fhir/sid/client"
STAFF_SYSTEM: Final = "https://hssk.sandbox.invalid/fhir/sid/staff"
ROLE_SYSTEM: Final = "https://hssk.sandbox.invalid/fhir/CodeSystem/kiosk-role"
REASON_DETAIL: Final = "break-glass-reason"
_OBSERVER: Final = {"display": "kiosk sandbox coordination server"}
_SECURITY_ROLE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"

Interaction = Literal["read", "search-type", "update", "create", "operation"]
_ACTION: Final[dict[str, str]] = {"read": "R", "search-type": "E", "update": "U", "create": "C", "operation": "E"}
Outcome = Literal["success", "refused", "failed"]
_OUTCOME: Final[dict[str, str]] = {"success": "0", "refused": "4", "failed": "8"}


@dataclass(frozen=True, slots=True)
class Happening:
    """What one request did, as the audit tells it: the interaction, what it concerned, and how it ended."""

    interaction: Interaction
    what: str
    """The route in plain words (`Patient/$summary`, `Appointment search`), never a query's values."""
    outcome: Outcome = "success"
    detail: str = ""
    """How it ended (`identity`, `clinical`, `redacted`, `consent-required`, ...); never patient data."""
    purpose: str | None = None
    reason: str | None = None
    """The break-glass reason, stored as the staff gave it (read by the admin role only)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _purpose(code: str) -> list[Json]:
    return [{"coding": [{"system": PURPOSE_SYSTEM, "code": code}]}]


def agents(grant: Grant, purpose: str | None = None) -> list[Json]:
    """The token's client and, when it names one, the staff member (then the requestor), as AuditEvent agents."""
    client: Json = {
        "type": {"coding": [{"system": DICOM_SYSTEM, "code": "110150", "display": "Application"}]},
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": grant.role.value}]}],
        "who": {"identifier": {"system": CLIENT_SYSTEM, "value": grant.client_id}, "display": grant.client_id},
        "requestor": grant.staff is None,
    }
    found = [client]
    if grant.staff is not None:
        found.append(
            {
                "type": {"coding": [{"system": _SECURITY_ROLE_SYSTEM, "code": "humanuser", "display": "human user"}]},
                "who": {
                    "identifier": {"system": STAFF_SYSTEM, "value": grant.staff.staff_id},
                    "display": grant.staff.name,
                },
                "requestor": True,
            }
        )
    if purpose is not None:
        for agent in found:
            agent["purposeOfUse"] = _purpose(purpose)
    return found


def server_event(grant: Grant, happening: Happening, patient_id: str | None) -> Json:
    """A server-written AuditEvent about one patient (or none)."""
    event: Json = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "meta": {"tag": [{"system": ORIGIN_SYSTEM, "code": SERVER_ORIGIN}]},
        "type": {"system": AUDIT_EVENT_TYPE_SYSTEM, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION_SYSTEM, "code": happening.interaction, "display": happening.what}],
        "action": _ACTION[happening.interaction],
        "recorded": _now(),
        "outcome": _OUTCOME[happening.outcome],
        "outcomeDesc": f"{happening.what}: {happening.detail or happening.outcome}",
        "agent": agents(grant, happening.purpose),
        "source": {"observer": dict(_OBSERVER)},
    }
    if happening.purpose is not None:
        event["purposeOfEvent"] = _purpose(happening.purpose)
    if patient_id is not None:
        entity: Json = {"what": {"reference": f"Patient/{patient_id}"}, "role": {"code": "1", "display": "Patient"}}
        if happening.purpose == BREAK_GLASS and happening.reason is not None:
            entity["detail"] = [{"type": REASON_DETAIL, "valueString": happening.reason}]
        event["entity"] = [entity]
    return event


def record(store: Store, grant: Grant, happening: Happening, patients: Iterable[str | None]) -> list[str]:
    """Write one event per patient (one without a patient when there is none); the ids written."""
    written: list[str] = []
    for patient_id in dict.fromkeys(patients) or [None]:
        event = server_event(grant, happening, patient_id)
        store.put_audit(event["id"], patient_id, event["recorded"], orjson.dumps(event))
        written.append(event["id"])
    return written


def client_trail(grant: Grant, event_id: str, body: Json) -> Json:
    """A kiosk's event as kept: its agents replaced by the token's client and staff member, its origin tagged.

    The kiosk's own purpose of use and extensions (the break-glass reason it recorded) stay on the requestor."""
    event = dict(body, id=event_id)
    claimed = next((a for a in body.get("agent") or [] if isinstance(a, dict) and a.get("requestor")), None)
    stamped = agents(grant)
    if claimed is not None:
        requestor = stamped[-1]
        for key in ("purposeOfUse", "extension"):
            if isinstance(claimed.get(key), list):
                requestor[key] = claimed[key]
    event["agent"] = stamped
    source = dict(body["source"]) if isinstance(body.get("source"), dict) else {}
    source["observer"] = {"identifier": {"system": CLIENT_SYSTEM, "value": grant.client_id}, "display": grant.client_id}
    event["source"] = source
    meta = dict(body["meta"]) if isinstance(body.get("meta"), dict) else {}
    meta["tag"] = [{"system": ORIGIN_SYSTEM, "code": CLIENT_ORIGIN}]
    event["meta"] = meta
    return event


def trail_patient(event: Json) -> str | None:
    """The patient a kiosk's event is about (its first Patient entity), for the audit search."""
    for entity in event.get("entity") or []:
        what = entity.get("what") if isinstance(entity, dict) else None
        reference = what.get("reference") if isinstance(what, dict) else None
        if isinstance(reference, str) and "Patient/" in reference:
            return local_id(reference, "Patient")
    return None


def same_event(stored: Json, incoming: Json) -> bool:
    """Whether a repeated PUT carries the event already stored (a retry), compared as canonical JSON."""
    options = orjson.OPT_SORT_KEYS
    return orjson.dumps(stored, option=options) == orjson.dumps(incoming, option=options)
