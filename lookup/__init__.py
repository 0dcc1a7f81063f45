"""From an identity to verified records over HL7 FHIR R4: what the kiosk (and any other caller) imports.

The rooms behind this face, each a subpackage with its own docstring:

- `domain`: the pydantic models every package shares, the identifier table, provinces, the one text fold;
- `fhir`: FHIR R4 JSON read into the domain (the one Patient reader, Bundles, signed documents, capabilities);
- `trust`: the pinned trust list and document signatures;
- `transport`: the HTTP client for one FHIR server and the one error type its failures become;
- `health_links`: SMART Health Links, parsed, fetched and decrypted;
- `matching`: the demographic matching engine;
- `service`: the lookup service that puts them together, online or from the offline cache.

Names are loaded on first use, not when `lookup` is imported: the kiosk must show its first screen before the HTTP,
JOSE and matching stacks are in memory, and a scanner that only needs the domain should not pay for the service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems, value_problem
    from lookup.domain.model import (
        Alert,
        Appointment,
        Candidate,
        CriticalFact,
        Demographics,
        DocumentInfo,
        DocumentType,
        FieldAgreement,
        Identifier,
        LookupOutcome,
        LookupSource,
        LookupStatus,
        MatchGrade,
        Observation,
        PatientRecord,
        PatientSummary,
        Provenance,
        Referral,
        ScanKind,
        ScanResult,
        SectionState,
        Sex,
        SignatureCheck,
        SignatureStatus,
        SummaryItem,
    )
    from lookup.domain.origins import PLAIN_HTTP_ALLOWED, PLAIN_HTTP_REFUSED, is_loopback_host, plain_http_off_machine
    from lookup.domain.pins import PinAttempts, hash_pin, is_pin_hash, pin_matches
    from lookup.domain.provinces import current_province, former_province
    from lookup.domain.staff import SignInResult, SignInStatus, StaffMember
    from lookup.domain.text import strip_controls
    from lookup.domain.visits import CHIEF_COMPLAINTS, CheckInResult, Department, Ticket, WalkInResult
    from lookup.service.binding import WrongPatientError
    from lookup.service.cache_protocol import Outbox, RecordCache
    from lookup.service.lookup_service import LookupService
    from lookup.service.results import LookupStep, PrefetchResult, Progress, ServiceStatus
    from lookup.transport.config import ServerConfig
    from lookup.trust.trust_list import TrustList, TrustListError, read_jwks

_MODULE_OF: dict[str, str] = {
    **dict.fromkeys(
        ("DEFAULT_TABLE", "IdentifierKind", "IdentifierSystems", "value_problem"), "lookup.domain.identifiers"
    ),
    **dict.fromkeys(("current_province", "former_province"), "lookup.domain.provinces"),
    "strip_controls": "lookup.domain.text",
    **dict.fromkeys(
        (
            "Alert",
            "Appointment",
            "Candidate",
            "CriticalFact",
            "Demographics",
            "DocumentInfo",
            "DocumentType",
            "FieldAgreement",
            "Identifier",
            "LookupOutcome",
            "LookupSource",
            "LookupStatus",
            "MatchGrade",
            "Observation",
            "PatientRecord",
            "PatientSummary",
            "Provenance",
            "Referral",
            "ScanKind",
            "ScanResult",
            "SectionState",
            "Sex",
            "SignatureCheck",
            "SignatureStatus",
            "SummaryItem",
        ),
        "lookup.domain.model",
    ),
    **dict.fromkeys(
        ("PLAIN_HTTP_ALLOWED", "PLAIN_HTTP_REFUSED", "is_loopback_host", "plain_http_off_machine"),
        "lookup.domain.origins",
    ),
    **dict.fromkeys(("PinAttempts", "hash_pin", "is_pin_hash", "pin_matches"), "lookup.domain.pins"),
    **dict.fromkeys(("SignInResult", "SignInStatus", "StaffMember"), "lookup.domain.staff"),
    **dict.fromkeys(("Outbox", "RecordCache"), "lookup.service.cache_protocol"),
    "WrongPatientError": "lookup.service.binding",
    "LookupService": "lookup.service.lookup_service",
    **dict.fromkeys(
        (
            "LookupStep",
            "PrefetchResult",
            "Progress",
            "ServiceStatus",
        ),
        "lookup.service.results",
    ),
    **dict.fromkeys(
        ("CHIEF_COMPLAINTS", "CheckInResult", "Department", "Ticket", "WalkInResult"), "lookup.domain.visits"
    ),
    "ServerConfig": "lookup.transport.config",
    **dict.fromkeys(("TrustList", "TrustListError", "read_jwks"), "lookup.trust.trust_list"),
}

__all__ = [
    "CHIEF_COMPLAINTS",
    "DEFAULT_TABLE",
    "PLAIN_HTTP_ALLOWED",
    "PLAIN_HTTP_REFUSED",
    "Alert",
    "Appointment",
    "Candidate",
    "CheckInResult",
    "CriticalFact",
    "Demographics",
    "Department",
    "DocumentInfo",
    "DocumentType",
    "FieldAgreement",
    "Identifier",
    "IdentifierKind",
    "IdentifierSystems",
    "LookupOutcome",
    "LookupService",
    "LookupSource",
    "LookupStatus",
    "LookupStep",
    "MatchGrade",
    "Observation",
    "Outbox",
    "PatientRecord",
    "PatientSummary",
    "PinAttempts",
    "PrefetchResult",
    "Progress",
    "Provenance",
    "RecordCache",
    "Referral",
    "ScanKind",
    "ScanResult",
    "SectionState",
    "ServerConfig",
    "ServiceStatus",
    "Sex",
    "SignInResult",
    "SignInStatus",
    "SignatureCheck",
    "SignatureStatus",
    "StaffMember",
    "SummaryItem",
    "Ticket",
    "TrustList",
    "TrustListError",
    "WalkInResult",
    "WrongPatientError",
    "current_province",
    "former_province",
    "hash_pin",
    "is_loopback_host",
    "is_pin_hash",
    "pin_matches",
    "plain_http_off_machine",
    "read_jwks",
    "strip_controls",
    "value_problem",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'lookup' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
