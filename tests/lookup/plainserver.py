"""A plain FHIR R4 server for the lookup tests: no `$summary`, documents or none, and a patient's records searched
one resource type at a time (`AllergyIntolerance?patient=Patient/ID`), in pages with `next` links and `total`.

It builds on `Faulty`, so one chosen path can still fail (500, truncated JSON, a hang) while the rest answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.lookup.fhirserver import Faulty, _outcome

Json = dict[str, Any]
RECORD_TYPES = (
    "AllergyIntolerance",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Immunization",
    "Observation",
    "Encounter",
    "ServiceRequest",
)
"""The per-resource searches this server answers (Appointment is `Faulty`'s own)."""


def allergy(pid: str, rid: str, text: str, *, criticality: str = "high", patient: str | None = None) -> Json:
    """An AllergyIntolerance of `pid`, naming its patient as `patient` (a reference text) when given."""
    return {
        "resourceType": "AllergyIntolerance",
        "id": rid,
        "code": {"text": text},
        "criticality": criticality,
        "patient": {"reference": patient or f"Patient/{pid}"},
    }


def condition(pid: str, rid: str, text: str) -> Json:
    return {"resourceType": "Condition", "id": rid, "code": {"text": text}, "subject": {"reference": f"Patient/{pid}"}}


@dataclass
class Plain(Faulty):
    """`Faulty` playing a server that keeps records one by one: `records[pid]` are the patient's resources (served
    as they are, whatever patient they name), `page_size` caps `_count`, `claimed_total` makes a resource type's
    searchset claim more than it holds, `offered` is what the CapabilityStatement lists (None: every type)."""

    with_summary: bool = False
    records: dict[str, list[Json]] = field(default_factory=dict)
    page_size: int = 100
    claimed_total: dict[str, int] = field(default_factory=dict)
    offered: frozenset[str] | None = None
    next_base: str | None = None
    """Where `next` links point (None: this server's own base)."""

    def keep(self, pid: str, *resources: Json) -> None:
        self.records.setdefault(pid, []).extend(resources)

    def offers(self, resource_type: str) -> bool:
        return self.offered is None or resource_type in self.offered

    def route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        params = dict(query)
        kind = path.split("/")[0]
        if method != "GET" or "/" in path or kind not in RECORD_TYPES:
            return super().route(method, path, query, headers, body)
        if headers.get("authorization", "").removeprefix("Bearer ") not in self.valid_tokens and self.with_token:
            return 401, _outcome("login", "a bearer token is required"), {}
        if not self.offers(kind):
            return 404, _outcome("not-found", "unknown resource type"), {}
        pid = params.get("patient", "").removeprefix("Patient/")
        if pid not in self.consent and headers.get("x-purpose-of-use") != "BTG":
            return 403, _outcome("forbidden", "consent-required"), {}
        matching = [r for r in self.records.get(pid, []) if r["resourceType"] == kind]
        count = min(int(params.get("_count", "10")), self.page_size)
        offset = int(params.get("_offset", "0"))
        page = matching[offset : offset + count]
        base = f"http://{headers.get('host', '')}/fhir"
        bundle: Json = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": self.claimed_total.get(kind, len(matching)),
            "entry": [
                {"fullUrl": f"{base}/{kind}/{r['id']}", "resource": copy.deepcopy(r), "search": {"mode": "match"}}
                for r in page
            ],
        }
        if offset + count < len(matching):
            link = f"{self.next_base or base}/{kind}?patient=Patient/{pid}&_count={count}&_offset={offset + count}"
            bundle["link"] = [{"relation": "next", "url": link}]
        return 200, bundle, {}

    def capability(self) -> dict[str, Any]:
        statement = super().capability()
        listed = [t for t in (*RECORD_TYPES, "Appointment") if self.offers(t)]
        statement["rest"][0]["resource"].extend({"type": t} for t in listed)
        return statement
