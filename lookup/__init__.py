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
    from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
    from lookup.domain.model import (
        Appointment,
        Candidate,
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
        Sex,
        SignatureCheck,
        SignatureStatus,
        SummaryItem,
    )
    from lookup.domain.origins import PLAIN_HTTP_ALLOWED, PLAIN_HTTP_REFUSED, is_loopback_host, plain_http_off_machine
    from lookup.domain.pins import PinAttempts, hash_pin, is_pin_hash, pin_matches
    from lookup.domain.staff import SignInResult, SignInStatus, StaffMember
    from lookup.domain.text import strip_controls
    from lookup.service.binding import WrongPatientError
    from lookup.service.cache_protocol import Outbox, RecordCache
    from lookup.service.lookup_service import LookupService
    from lookup.service.results import CheckInResult, LookupStep, PrefetchResult, Progress, ServiceStatus
    from lookup.transport.config import ServerConfig
    from lookup.trust.trust_list import TrustList, TrustListError, read_jwks

_MODULE_OF: dict[str, str] = {
    **dict.fromkeys(("DEFAULT_TABLE", "IdentifierKind", "IdentifierSystems"), "lookup.domain.identifiers"),
    "strip_controls": "lookup.domain.text",
    **dict.fromkeys(
        (
            "Appointment",
            "Candidate",
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
        ("CheckInResult", "LookupStep", "PrefetchResult", "Progress", "ServiceStatus"), "lookup.service.results"
    ),
    "ServerConfig": "lookup.transport.config",
    **dict.fromkeys(("TrustList", "TrustListError", "read_jwks"), "lookup.trust.trust_list"),
}

__all__ = [
    "DEFAULT_TABLE",
    "PLAIN_HTTP_ALLOWED",
    "PLAIN_HTTP_REFUSED",
    "Appointment",
    "Candidate",
    "CheckInResult",
    "Demographics",
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
    "ServerConfig",
    "ServiceStatus",
    "Sex",
    "SignInResult",
    "SignInStatus",
    "SignatureCheck",
    "SignatureStatus",
    "StaffMember",
    "SummaryItem",
    "TrustList",
    "TrustListError",
    "WrongPatientError",
    "hash_pin",
    "is_loopback_host",
    "is_pin_hash",
    "pin_matches",
    "plain_http_off_machine",
    "read_jwks",
    "strip_controls",
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
