"""A FHIR server on loopback whose every text field is hostile: Textual markup, terminal escape sequences, C1
controls and bidirectional overrides, in names, addresses, facilities, documents, appointments, referrals, lab
results and OperationOutcome sentences. Documents are signed with a key the kiosk trusts, so nothing about them is
suspicious but their words.

`FIELDS` says, for each field, what the server sends and what a kiosk that treats text as data shows of it: the
markup literally, with every escape, control and bidirectional character gone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.trust.signatures import sign_document
from tests.lookup.fhirserver import Receive, Scope, Send

CLICK: Final = "[@click=app.quit]"
MARKUP: Final = ("[/]", "[bold red]x", "[link=https://evil]y")
HIDDEN: Final = (
    "\x1b[2J",  # clear the screen
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: write the clipboard
    "\x1b]0;title\x07",  # OSC 0: set the window title
    "\x9b2J",  # 8-bit CSI
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\x07",  # BEL
)
TERMINAL_ACTORS: Final = ("\x1b", "\x9b", "\x07", "\u202e", "\u2066", "\u2069", "\x9d")
"""What must never reach a terminal or a screen."""
CCCD: Final = DEFAULT_TABLE.system(IdentifierKind.CCCD)
CARD_P1: Final = "001190012345"
CARD_P2: Final = "001190054321"
CARD_UNKNOWN: Final = "001190099999"
FACILITY_CODE: Final = "01001"
KID: Final = "hostile-facility-1"
SHC_KID: Final = "hostile-issuer-1"
SHC_ISSUER: Final = "https://issuer.example.vn/shc"
_SHC_REGISTRY = jws.JWSRegistry(header_registry={"zip": HeaderParameter("Compression", "str")}, algorithms=["ES256"])
_ROTATION = itertools.count()


def hostile(tag: str, *, extra: str | None = None) -> tuple[str, str]:
    """(what the server sends, what the kiosk must show) for one field: `tag`, one more piece of markup (an
    unbalanced `[/]` first, so a markup reader fails), `[@click=app.quit]`, and escape, control and bidi characters
    between them."""
    n = next(_ROTATION)
    more = MARKUP[n % len(MARKUP)] if extra is None else extra
    hidden = [HIDDEN[(n + i) % len(HIDDEN)] for i in range(3)]
    return f"{tag}{hidden[0]}{more}{hidden[1]}{CLICK}{hidden[2]}", f"{tag}{more}{CLICK}"


FIELDS: Final[dict[str, tuple[str, str]]] = {
    "family": hostile("Fa"),
    "given": hostile("Gi", extra="[/]"),
    "province": hostile("Pr"),
    "address": hostile("Ad"),
    # Facility names are shown in a column of 28 cells: no extra markup, so the whole name fits.
    "facility": hostile("Fc", extra=""),
    "title": hostile("Ti", extra="[/]"),
    "allergy": hostile("Al", extra="[/]"),
    "criticality": hostile("Cr"),
    "condition": hostile("Co"),
    "clinical_status": hostile("Cs"),
    "medication": hostile("Me"),
    "dosage": hostile("Do"),
    "prescription": hostile("Rx"),
    "dosage_instruction": hostile("Di"),
    "encounter": hostile("En"),
    "encounter_reason": hostile("Er"),
    "immunization": hostile("Im"),
    "blood_type": hostile("Bl"),
    "lab_name": hostile("La", extra=""),
    "lab_unit": hostile("Un", extra=""),
    "lab_text": hostile("Lt"),
    "appointment": hostile("Ap", extra="[/]"),
    "appointment_place": hostile("Lo", extra=""),
    "referral_reason": hostile("Re", extra="[/]"),
    "referral_from": hostile("Rf", extra=""),
    "referral_to": hostile("Rt", extra=""),
    "refusal": hostile("Ou", extra="[/]"),
    "candidate_family": hostile("Cf", extra="[/]"),
    "candidate_province": hostile("Cp", extra=""),
    "card_family": hostile("Kf", extra="[/]"),
    "fhir_version": hostile("4.0.1", extra=""),
}


def sent(name: str) -> str:
    return FIELDS[name][0]


def shown(name: str) -> str:
    return FIELDS[name][1]


def concept(name: str) -> dict[str, Any]:
    return {"text": sent(name)}


def patient(pid: str, card: str, *, family: str = "family", given: str = "given") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": CCCD, "value": card}],
        "name": [{"use": "official", "family": sent(family), "given": ["Thị", sent(given)]}],
        "birthDate": "1990-04-12",
        "gender": "female",
        "address": [{"state": sent("province"), "text": sent("address")}],
    }


def appointment(pid: str) -> dict[str, Any]:
    start = dt.datetime.now().astimezone().replace(hour=10, minute=30, second=0, microsecond=0)
    return {
        "resourceType": "Appointment",
        "id": f"{pid}-appt",
        "status": "booked",
        "start": start.isoformat(),
        "description": sent("appointment"),
        "participant": [
            {"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
            {"actor": {"reference": "Location/loc1", "display": sent("appointment_place")}, "status": "accepted"},
        ],
    }


def referral(pid: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": f"{pid}-ref",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2025-03-01",
        "reasonCode": [concept("referral_reason")],
        "requester": {"reference": "Organization/org2", "display": sent("referral_from")},
        "performer": [{"reference": f"Organization/{FACILITY_CODE}", "display": sent("referral_to")}],
    }


def document(pid: str) -> dict[str, Any]:
    """A patient summary document: one resource of every kind the kiosk shows, each with hostile words."""
    subject = {"reference": f"Patient/{pid}"}
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Composition",
            "id": f"{pid}-comp",
            "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5"}]},
            "subject": subject,
            "date": "2025-03-01T08:00:00Z",
            "title": sent("title"),
            "author": [{"reference": "Organization/org1"}],
            "custodian": {"reference": "Organization/org1"},
        },
        {
            "resourceType": "Organization",
            "id": "org1",
            "identifier": [{"value": FACILITY_CODE}],
            "name": sent("facility"),
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{pid}-al",
            "patient": subject,
            "code": concept("allergy"),
            "criticality": sent("criticality"),
            "recordedDate": "2025-03-01",
        },
        {
            "resourceType": "Condition",
            "id": f"{pid}-co",
            "subject": subject,
            "code": concept("condition"),
            "clinicalStatus": {"coding": [{"code": sent("clinical_status")}]},
            "recordedDate": "2025-03-01",
        },
        {
            "resourceType": "MedicationStatement",
            "id": f"{pid}-ms",
            "status": "active",
            "subject": subject,
            "medicationCodeableConcept": concept("medication"),
            "dosage": [{"text": sent("dosage")}],
            "effectiveDateTime": "2025-03-01",
        },
        {
            "resourceType": "MedicationRequest",
            "id": f"{pid}-mr",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "medicationCodeableConcept": concept("prescription"),
            "dosageInstruction": [{"text": sent("dosage_instruction")}],
            "authoredOn": "2025-03-01",
        },
        {
            "resourceType": "Encounter",
            "id": f"{pid}-en",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": subject,
            "type": [concept("encounter")],
            "reasonCode": [concept("encounter_reason")],
            "period": {"start": "2025-03-01T08:00:00Z"},
        },
        {
            "resourceType": "Immunization",
            "id": f"{pid}-im",
            "status": "completed",
            "patient": subject,
            "vaccineCode": concept("immunization"),
            "occurrenceDateTime": "2025-03-01",
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-bt",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "882-1", "display": "ABO+Rh"}]},
            "valueCodeableConcept": concept("blood_type"),
            "effectiveDateTime": "2025-03-01",
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-lab",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": sent("lab_name")},
            "valueQuantity": {"value": 5.4, "unit": sent("lab_unit")},
            "effectiveDateTime": "2025-03-01",
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-lab-text",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "5778-6"}], "text": "Màu nước tiểu"},
            "valueString": sent("lab_text"),
            "effectiveDateTime": "2025-03-01",
        },
        appointment(pid),
        referral(pid),
    ]
    return {
        "resourceType": "Bundle",
        "id": f"{pid}-doc",
        "type": "document",
        "timestamp": "2025-03-01T08:00:00Z",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "details": {"text": text}}],
    }


def searchset(resources: list[dict[str, Any]], **entry: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match", **entry}} for r in resources],
    }


@dataclass
class HostileServer:
    """Two patients (p1 consented, p2 not), two look-alike candidates for any `$match`, and only hostile words.

    A break-glass reason is always refused with a hostile OperationOutcome sentence."""

    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    card_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    matched: list[dict[str, Any]] = field(default_factory=list)
    """The `$match` Parameters received (what the kiosk made of a card's name)."""
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.patients = {
            "p1": patient("p1", CARD_P1),
            "p2": patient("p2", CARD_P2),
            "c1": patient("c1", "001190011111", family="candidate_family"),
            "c2": patient("c2", "001190022222", family="candidate_family", given="given"),
        }
        for candidate in ("c1", "c2"):
            self.patients[candidate]["address"] = [{"state": sent("candidate_province")}]
        self.documents = {pid: [sign_document(document(pid), self.key, KID)] for pid in ("p1", "p2")}

    def trust_list(self, folder: Path) -> Path:
        """The kiosk's pinned trust list: this server's facility key and its card issuer's key."""
        facility = self.key.as_dict(private=False) | {
            "kid": KID,
            "facility_code": FACILITY_CODE,
            "facility_name": "Bệnh viện Bạch Mai",
        }
        issuer = self.card_key.as_dict(private=False) | {"kid": SHC_KID, "iss": SHC_ISSUER}
        path = folder / "trust.json"
        path.write_text(json.dumps({"keys": [facility, issuer]}), encoding="utf-8")
        return path

    def card(self, card: str = CARD_UNKNOWN) -> str:
        """The `shc:/` text of a SMART Health Card signed by the trusted issuer, its name hostile."""
        holder = {
            "resourceType": "Patient",
            "identifier": [{"system": CCCD, "value": card}],
            "name": [{"family": sent("card_family"), "given": ["Văn", "An"]}],
            "gender": "male",
            "birthDate": "1990-05-17",
        }
        claims = {
            "iss": SHC_ISSUER,
            "nbf": int(dt.datetime.now(dt.UTC).timestamp()) - 86_400,
            "vc": {
                "type": ["https://smarthealth.cards#health-card"],
                "credentialSubject": {
                    "fhirVersion": "4.0.1",
                    "fhirBundle": {
                        "resourceType": "Bundle",
                        "type": "collection",
                        "entry": [{"fullUrl": "resource:0", "resource": holder}],
                    },
                },
            },
        }
        deflater = zlib.compressobj(wbits=-15)
        payload = deflater.compress(json.dumps(claims, separators=(",", ":")).encode()) + deflater.flush()
        header = {"alg": "ES256", "zip": "DEF", "kid": SHC_KID}
        token = jws.serialize_compact(header, payload, self.card_key, algorithms=["ES256"], registry=_SHC_REGISTRY)
        return "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in token)

    # -- ASGI ---------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"].removeprefix("/fhir").strip("/")
        query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(f"{scope['method']} {path}")
        status, payload = self.route(scope["method"], path, query, headers, body)
        raw = orjson.dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/fhir+json"), (b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})
        await asyncio.sleep(0)

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        parts = path.split("/")
        if path == "metadata":
            return 200, self.capability()
        if parts[0] == "AuditEvent":
            return 201, orjson.loads(body) if body else {"resourceType": "AuditEvent"}
        if path == "Patient/$match" and method == "POST":
            self.matched.append(orjson.loads(body))
            found = [self.patients["c1"], self.patients["c2"]]
            grade = {"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": "possible"}
            return 200, searchset(found, score=0.55, extension=[grade])
        if path == "Patient" and query.get("_summary") == "count":
            return 200, {"resourceType": "Bundle", "type": "searchset", "total": 1000}
        if path == "Patient" and "identifier" in query:
            wanted = set(query["identifier"].split(","))
            found = [
                p for p in self.patients.values() if {f"{i['system']}|{i['value']}" for i in p["identifier"]} & wanted
            ]
            return 200, searchset(found)
        if parts[0] == "Patient" and len(parts) == 2 and parts[1] in self.patients:
            return 200, self.patients[parts[1]]
        if parts[0] == "Patient" and len(parts) == 3 and parts[2] == "$summary" and parts[1] in self.documents:
            pid = parts[1]
            if pid == "p2":
                if headers.get("x-purpose-of-use") == "BTG":
                    return 400, outcome("invalid", sent("refusal"))
                return 403, outcome("forbidden", "consent-required")
            entries = [{"resource": self.patients[pid]}, *({"resource": d} for d in self.documents[pid])]
            return 200, {"resourceType": "Bundle", "type": "collection", "entry": entries}
        if path == "Appointment":
            pid = query.get("patient", "").removeprefix("Patient/")
            return 200, searchset([appointment(pid)] if pid in self.documents else [])
        if path == "ServiceRequest":
            pid = query.get("patient", "").removeprefix("Patient/")
            return 200, searchset([referral(pid)] if pid in self.documents else [])
        return 404, outcome("not-found", sent("refusal"))

    def capability(self) -> dict[str, Any]:
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": sent("fhir_version"),
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {"type": "Patient", "operation": [{"name": "summary"}, {"name": "match"}]},
                        {"type": "Appointment"},
                        {"type": "ServiceRequest"},
                        {"type": "AuditEvent"},
                    ],
                }
            ],
        }
