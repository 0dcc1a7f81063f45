"""The identifier systems the product knows, as one table.

The URIs follow the community VN Core FHIR IG draft (not yet state-approved), so a deployment may override any of
them in its settings; code asks this table rather than spelling a URI itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class IdentifierKind(StrEnum):
    """What an identifier is, in the hospital's words."""

    CCCD = "cccd"
    """The 12-digit personal ID number (chip citizen ID card); also the health identifier."""
    CMND = "cmnd"
    """The old 9-digit ID card number."""
    BHYT = "bhyt"
    """Health-insurance: the 10-digit BHXH number, a legacy 15-character card number, or the CCCD since 2025."""
    PASSPORT = "passport"
    TEMPORARY = "temporary"
    """A temporary identity the ER gave a person it could not identify (`lookup.domain.temporary`)."""


DEFAULT_SYSTEMS: Final[Mapping[IdentifierKind, str]] = {
    IdentifierKind.CCCD: "http://fhir.hl7.org.vn/core/sid/cccd",
    IdentifierKind.CMND: "http://fhir.hl7.org.vn/core/sid/cmnd",
    IdentifierKind.BHYT: "http://fhir.hl7.org.vn/core/sid/bhyt",
    IdentifierKind.PASSPORT: "http://fhir.hl7.org.vn/core/sid/passport",
    IdentifierKind.TEMPORARY: "http://fhir.hl7.org.vn/core/sid/temporary",
}

_PATTERNS: Final[Mapping[IdentifierKind, re.Pattern[str]]] = {
    IdentifierKind.CCCD: re.compile(r"\d{12}"),
    IdentifierKind.CMND: re.compile(r"\d{9}"),
    # 10-digit BHXH number, legacy 15-character card (2 letters, 13 digits), or a 12-digit CCCD used as the card.
    IdentifierKind.BHYT: re.compile(r"\d{10}|[A-Z]{2}\d{13}|\d{12}"),
    IdentifierKind.PASSPORT: re.compile(r"[A-Z0-9]{6,12}"),
    IdentifierKind.TEMPORARY: re.compile(r"TMP\d{9}"),
}


class IdentifierSystems:
    """The kind <-> FHIR system table, with a deployment's overrides applied."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        table = dict(DEFAULT_SYSTEMS)
        for kind_name, uri in (overrides or {}).items():
            table[IdentifierKind(kind_name)] = uri
        self._by_kind: dict[IdentifierKind, str] = table
        self._by_system: dict[str, IdentifierKind] = {uri: kind for kind, uri in table.items()}

    def system(self, kind: IdentifierKind) -> str:
        return self._by_kind[kind]

    def kind(self, system: str) -> IdentifierKind | None:
        return self._by_system.get(system)

    def items(self) -> list[tuple[IdentifierKind, str]]:
        return list(self._by_kind.items())


def value_problem(kind: IdentifierKind, value: str) -> str | None:
    """Why `value` cannot be an identifier of `kind`, or None when its shape is right."""
    if not _PATTERNS[kind].fullmatch(value):
        # The value itself is never echoed: error texts end up in logs.
        return f"not a well-formed {kind.value} number ({len(value)} characters)"
    return None


DEFAULT_TABLE: Final = IdentifierSystems()
