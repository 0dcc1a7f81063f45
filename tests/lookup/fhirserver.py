"""A small FHIR server for the lookup tests, served by uvicorn on 127.0.0.1, that can misbehave on purpose.

It holds a handful of patients with signed documents and answers the protocol of DESIGN.md; `fault` makes every
request (or only those whose path contains `fault_path`) fail in one chosen way: 500, 429 with Retry-After, a hang,
truncated or invalid JSON. It exists beside the sandbox because the sandbox is correct by design, and these tests
need a server that is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
import uvicorn
from joserfc.jwk import ECKey

from lookup.trust.signatures import sign_document
from lookup.trust.trust_list import TrustedKey, TrustList

CCCD = "http://fhir.hl7.org.vn/core/sid/cccd"
BHYT = "http://fhir.hl7.org.vn/core/sid/bhyt"
TEMPORARY = "http://fhir.hl7.org.vn/core/sid/temporary"
BENEFIT_LEVEL = "http://fhir.hl7.org.vn/core/StructureDefinition/bhyt-benefit-level"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def patient_json(pid: str, cccd: str, family: str, given: list[str], birth: str, gender: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": CCCD, "value": cccd}],
        "name": [{"use": "official", "family": family, "given": given}],
        "birthDate": birth,
        "gender": gender,
        "address": [{"state": "Hà Nội", "text": "12 Phố Huế, Hà Nội"}],
    }


def document(pid: str, doc_id: str, allergy: str, facility: str, date: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": doc_id,
        "type": "document",
        "timestamp": f"{date}T08:00:00Z",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{doc_id}-c",
                "resource": {
                    "resourceType": "Composition",
                    "id": f"{doc_id}-c",
                    "status": "final",
                    "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5"}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "date": f"{date}T08:00:00Z",
                    "title": "Sổ sức khỏe điện tử",
                    "custodian": {"display": facility, "identifier": {"value": "01001"}},
                },
            },
            {
                "fullUrl": f"urn:uuid:{doc_id}-a",
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "id": f"{doc_id}-a",
                    "code": {"text": allergy},
                    "criticality": "high",
                    "patient": {"reference": f"Patient/{pid}"},
                },
            },
            {
                "fullUrl": f"urn:uuid:{doc_id}-o",
                "resource": {
                    "resourceType": "Observation",
                    "id": f"{doc_id}-o",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "882-1", "display": "ABO+Rh"}]},
                    "valueCodeableConcept": {"text": "O+"},
                    "subject": {"reference": f"Patient/{pid}"},
                },
            },
        ],
    }


@dataclass
class Faulty:
    """The server's data and its chosen misbehaviour."""

    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    kid: str = "bachmai-2025"
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    consent: set[str] = field(default_factory=set)
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)
    fault: str | None = None
    """None, "500", "429", "hang", "truncated", "invalid"."""
    fault_path: str = ""
    fault_times: int = 10**9
    retry_after: int = 1
    with_metadata: bool = True
    with_summary: bool = True
    """False plays a plain FHIR server: no `$summary`, documents found by `Bundle?composition.subject=`."""
    with_token: bool = True
    requests: list[str] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    token_lifetime: int = 3600
    provenances: list[dict[str, Any]] = field(default_factory=list)
    """Of identity links and undos, newest last."""
    expired_cards: set[str] = field(default_factory=set)
    """Insurance card numbers the simulated gateway answers as no longer in force."""

    def trust(self) -> TrustList:
        public = ECKey.import_key(self.key.as_dict(private=False))
        return TrustList(
            [TrustedKey(kid=self.kid, key=public, facility_code="01001", facility_name="Bệnh viện Bạch Mai")]
        )

    def headers_of(self, request: str) -> list[dict[str, str]]:
        """The headers of every request whose line (`GET Patient/p1/$summary`) ends with `request`, oldest first.

        A client's audit outbox sends in the background, so "the last request" may be any of them: a test picks the
        request it means. The server thread appends the request line before its headers; a reader in another thread
        may see one list a request ahead, so only requests with both are paired."""
        count = min(len(self.requests), len(self.headers_seen))
        pairs = zip(self.requests[:count], self.headers_seen[:count], strict=True)
        return [headers for line, headers in pairs if line.endswith(request)]

    def add(self, pid: str, cccd: str, *, consent: bool = True, allergy: str = "Penicillin") -> None:
        self.patients[pid] = patient_json(pid, cccd, "Nguyễn", ["Thị", "Lan"], "1990-04-12", "female")
        doc = sign_document(document(pid, f"{pid}-d1", allergy, "Bệnh viện Bạch Mai", "2025-03-01"), self.key, self.kid)
        self.documents[pid] = [doc]
        if consent:
            self.consent.add(pid)

    def tamper(self, pid: str, new_allergy: str) -> None:
        doc = self.documents[pid][0]
        doc["entry"][1]["resource"]["code"]["text"] = new_allergy

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
        path = scope["path"].removeprefix("/fhir/").removeprefix("/fhir")
        query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(f"{scope['method']} {path}")
        self.headers_seen.append(headers)
        if self.fault and self.fault_path in path and self.fault_times > 0:
            self.fault_times -= 1
            await self._misbehave(send)
            return
        status, payload, extra = self.route(scope["method"], path, query, headers, body)
        await _send_json(send, status, payload, extra)

    async def _misbehave(self, send: Send) -> None:
        if self.fault == "500":
            await _send_json(send, 500, {"resourceType": "OperationOutcome", "issue": [{"code": "exception"}]})
        elif self.fault == "429":
            await _send_json(send, 429, {"resourceType": "OperationOutcome"}, {"retry-after": str(self.retry_after)})
        elif self.fault == "hang":
            await asyncio.sleep(30)
        elif self.fault == "truncated":
            raw = orjson.dumps({"resourceType": "Bundle", "type": "searchset", "entry": list(self.patients.values())})
            await _send_raw(send, 200, raw[: len(raw) // 2])
        elif self.fault == "invalid":
            await _send_raw(send, 200, b"<html>Service temporarily unavailable</html>")

    def route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        params = dict(query)
        if path == "metadata":
            if not self.with_metadata:
                return 404, _outcome("not-found", "no metadata"), {}
            return 200, self.capability(), {}
        if path == "auth/token":
            if not self.with_token:
                return 404, _outcome("not-found", "no such endpoint"), {}
            self.tokens_issued += 1
            token = f"tok-{uuid.uuid4()}"
            self.valid_tokens.add(token)
            return 200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}, {}
        if self.with_token and headers.get("authorization", "").removeprefix("Bearer ") not in self.valid_tokens:
            return 401, _outcome("login", "a bearer token is required"), {}
        parts = path.split("/")
        if parts[0] == "Patient" and len(parts) == 1 and "identifier" in params:
            wanted = set(params["identifier"].split(","))
            found = [
                p for p in self.patients.values() if {f"{i['system']}|{i['value']}" for i in p["identifier"]} & wanted
            ]
            return 200, _searchset(found), {}
        if parts[0] == "Patient" and len(parts) == 2:
            p = self.patients.get(parts[1])
            return (200, p, {}) if p else (404, _outcome("not-found", "no such patient"), {})
        if parts[0] == "Bundle" and len(parts) == 1 and not self.with_summary:
            pid = params.get("composition.subject", "").removeprefix("Patient/")
            if pid not in self.consent and headers.get("x-purpose-of-use") != "BTG":
                return 403, _outcome("forbidden", "consent-required"), {}
            return 200, _searchset(self.documents.get(pid, [])), {}
        if parts[0] == "Patient" and len(parts) == 3 and parts[2] == "$summary":
            if not self.with_summary:
                return 404, _outcome("not-supported", "unknown operation"), {}
            pid = parts[1]
            if pid not in self.patients:
                return 404, _outcome("not-found", "no such patient"), {}
            if pid not in self.consent and headers.get("x-purpose-of-use") != "BTG":
                return 403, _outcome("forbidden", "consent-required"), {}
            entries = [{"resource": self.patients[pid]}] + [{"resource": d} for d in self.documents.get(pid, [])]
            return 200, {"resourceType": "Bundle", "type": "collection", "entry": entries}, {}
        if parts[0] == "AuditEvent" and method == "PUT" and len(parts) == 2:
            self.audits[parts[1]] = orjson.loads(body)
            return 201, self.audits[parts[1]], {}
        if parts[0] == "Appointment" and len(parts) == 1:
            pid = params.get("patient", "").removeprefix("Patient/")
            found = [
                a
                for a in self.appointments.values()
                if any(p["actor"]["reference"] == f"Patient/{pid}" for p in a["participant"])
            ]
            return 200, _searchset(found), {}
        if parts[0] == "Appointment" and len(parts) == 2:
            if method == "PUT":
                self.appointments[parts[1]] = orjson.loads(body)
            a = self.appointments.get(parts[1])
            return (200, a, {}) if a else (404, _outcome("not-found", "no such appointment"), {})
        identity = self.identity_route(method, parts, params, body)
        if identity is not None:
            return identity[0], identity[1], {}
        return 404, _outcome("not-found", "unknown path"), {}

    # -- unknown patients and insurance (the contract of `sandbox.server`, kept small) ----------------------------

    def identity_route(
        self, method: str, parts: list[str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]] | None:
        if parts == ["Patient"] and method == "POST":
            return self._create(orjson.loads(body))
        if parts[0] == "Patient" and len(parts) == 3 and method == "POST" and parts[1] in self.patients:
            if parts[2] == "$link-identity":
                real = orjson.loads(body)["parameter"][0]["valueReference"]["reference"].removeprefix("Patient/")
                return self._link(parts[1], real)
            if parts[2] == "$unlink-identity":
                return self._unlink(parts[1])
        if parts == ["Provenance"] and method == "GET":
            wanted = params.get("target", "")
            return 200, _searchset([p for p in self.provenances if p["target"][0]["reference"] == wanted])
        if parts == ["CoverageEligibilityRequest"] and method == "POST":
            return 200, self._eligibility(orjson.loads(body))
        return None

    def _create(self, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = resource.get("identifier") or []
        if len(ids) != 1 or ids[0].get("system") != TEMPORARY:
            return 400, _outcome("invalid", "exactly one temporary identifier")
        for held in self.patients.values():
            if ids[0] in held["identifier"]:
                return 200, held
        pid = f"tmp-{uuid.uuid4().hex[:12]}"
        self.patients[pid] = {**resource, "id": pid}
        return 201, self.patients[pid]

    def _link(self, temp: str, real: str) -> tuple[int, dict[str, Any]]:
        if real not in self.patients:
            return 404, _outcome("not-found", "no such target patient")
        if self.patients[temp].get("link") or self.patients[real]["identifier"][0]["system"] == TEMPORARY:
            return 409, _outcome("conflict", "already linked, or the target is itself temporary")
        self.patients[temp] = {
            **self.patients[temp],
            "active": False,
            "link": [{"other": {"reference": f"Patient/{real}"}, "type": "replaced-by"}],
        }
        self.patients[real] = {
            **self.patients[real],
            "link": [{"other": {"reference": f"Patient/{temp}"}, "type": "replaces"}],
        }
        self._provenance(temp, real, "link")
        return 200, self.patients[temp]

    def _unlink(self, temp: str) -> tuple[int, dict[str, Any]]:
        links = self.patients[temp].get("link") or []
        if not links:
            return 409, _outcome("conflict", "not linked")
        real = links[0]["other"]["reference"].removeprefix("Patient/")
        self.patients[temp] = {k: v for k, v in self.patients[temp].items() if k != "link"} | {"active": True}
        self.patients[real] = {k: v for k, v in self.patients[real].items() if k != "link"}
        self._provenance(temp, real, "unlink")
        return 200, self.patients[temp]

    def _provenance(self, temp: str, real: str, code: str) -> None:
        self.provenances.append(
            {
                "resourceType": "Provenance",
                "id": f"prov-{len(self.provenances) + 1}",
                "target": [{"reference": f"Patient/{temp}"}],
                "entity": [{"role": "source", "what": {"reference": f"Patient/{real}"}}],
                "activity": {"coding": [{"code": code}]},
                "recorded": f"2026-03-01T08:{len(self.provenances):02d}:00+00:00",
                "agent": [
                    {"who": {"identifier": {"system": "urn:kiosk:client", "value": "demo-er"}}},
                    {"who": {"identifier": {"system": "urn:kiosk:staff", "value": "bs-an"}}},
                ],
            }
        )

    def _eligibility(self, request: dict[str, Any]) -> dict[str, Any]:
        card = next(c for c in request["contained"] if c["resourceType"] == "Coverage")["subscriberId"]
        expired = card in self.expired_cards
        return {
            "resourceType": "CoverageEligibilityResponse",
            "status": "active",
            "outcome": "complete",
            "insurance": [
                {
                    "inforce": not expired,
                    "benefitPeriod": {"start": "2020-01-01", "end": "2020-12-31" if expired else "2099-12-31"},
                    "extension": [{"url": BENEFIT_LEVEL, "valueInteger": 4}],
                }
            ],
        }

    def capability(self) -> dict[str, Any]:
        operations = [{"name": "summary", "definition": "x/Patient-summary"}] if self.with_summary else []
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {"type": "Patient", "operation": operations},
                        {"type": "Bundle"},
                    ],
                }
            ],
        }


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "details": {"text": text}}],
    }


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": copy.deepcopy(r), "search": {"mode": "match"}} for r in resources],
    }


async def _send_json(send: Send, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
    await _send_raw(send, status, orjson.dumps(payload), extra)


async def _send_raw(send: Send, status: int, raw: bytes, extra: dict[str, str] | None = None) -> None:
    headers = [(b"content-type", b"application/fhir+json"), (b"content-length", str(len(raw)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


@contextlib.contextmanager
def serve(app: Callable[[Scope, Receive, Send], Awaitable[None]], port: int | None = None) -> Iterator[str]:
    """Run an ASGI app on a loopback port (a free one by default) in a thread; yields the FHIR base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def unquoted(value: str) -> str:
    return unquote(value)
