"""A temporary identity's wristband code: the number alone (`TMP-1234-5678-9` or `TMP123456789`), nothing else.

The check digit decides: a code of the right shape whose check digit is wrong was misprinted, misread or mistyped,
and is refused rather than read as a number that could be someone else's.
"""

from __future__ import annotations

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind, IdentifierSystems
from lookup.domain.model import ScanKind, ScanReading
from lookup.domain.temporary import spelled_as_temporary, temporary_number
from scanners.payloads.common import PayloadError, identifier


def looks_like_temporary(text: str) -> bool:
    """Whether `text` is spelled as a temporary number (its check digit is not looked at here)."""
    return spelled_as_temporary(text)


def parse_temporary(text: str, systems: IdentifierSystems = DEFAULT_TABLE) -> ScanReading:
    """The temporary identifier of a wristband code; `PayloadError` when its check digit is wrong."""
    number = temporary_number(text)
    if number is None:
        raise PayloadError("the temporary number's check digit is wrong: the code was misprinted or misread")
    return ScanReading(kind=ScanKind.TEMPORARY, identifiers=(identifier(IdentifierKind.TEMPORARY, number, systems),))
