"""Temporary identities for a person the ER cannot identify (unconscious, no card, no companion).

A temporary number is `TMP` and nine digits: eight drawn at random (never a sequence, so two patients' numbers say
nothing about each other or about arrival order) and a Luhn check digit, so one mistyped or misread digit is caught.
It is printed and typed with hyphens (`TMP-1234-5678-9`); `temporary_number` accepts either spelling.

The alias follows the emergency-department convention of a name no one can take for a real one: "Chưa rõ danh
tính" (identity unknown), then a NATO spelling-alphabet word and the number's last four digits, both taken from the
number, so the alias can always be worked out again from the number and two patients who arrive together differ in
two places.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind

# `Eligibility` is defined beside the scan reading that carries it, and offered here with the other shared models.
from lookup.domain.model import Eligibility as Eligibility
from lookup.domain.model import NameText, Sex

TEMPORARY_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.TEMPORARY)
ALIAS_PREFIX: Final = "Chưa rõ danh tính"
""""Identity unknown": the family part of every temporary alias."""
ALIAS_WORDS: Final = (
    "ALFA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA", "JULIETT", "KILO", "LIMA",
    "MIKE", "NOVEMBER", "OSCAR", "PAPA", "QUEBEC", "ROMEO", "SIERRA", "TANGO", "UNIFORM", "VICTOR", "WHISKEY",
    "XRAY", "YANKEE", "ZULU",
)  # fmt: skip
_SPELLINGS: Final = re.compile(r"TMP-?(\d{4})-?(\d{4})-?(\d)")


def _luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_temporary_number() -> str:
    """A fresh temporary number (`TMP` + 8 random digits + check digit), canonical form without hyphens."""
    body = f"{secrets.randbelow(10**8):08d}"
    return f"TMP{body}{_luhn_digit(body)}"


def temporary_number(text: str) -> str | None:
    """The canonical temporary number in `text` (with or without hyphens, any case, spaces around), or None when it is
    not one or its check digit is wrong."""
    found = _SPELLINGS.fullmatch(text.strip().upper())
    if found is None:
        return None
    body, check = found.group(1) + found.group(2), found.group(3)
    return f"TMP{body}{check}" if _luhn_digit(body) == check else None


def spelled_as_temporary(text: str) -> bool:
    """Whether `text` has the shape of a temporary number (`TMP`, nine digits, optional hyphens), whatever its check
    digit: a code of this shape whose `temporary_number` is None was mistyped or misread, not some other kind."""
    return _SPELLINGS.fullmatch(text.strip().upper()) is not None


def printed_number(number: str) -> str:
    """`TMP123456789` as printed and read aloud: `TMP-1234-5678-9`."""
    return f"{number[:3]}-{number[3:7]}-{number[7:11]}-{number[11:]}"


def temporary_alias(number: str) -> str:
    """The alias shown for a temporary identity, e.g. `Chưa rõ danh tính KILO 5679`."""
    digits = number[3:]
    word = ALIAS_WORDS[int(digits[:8]) % len(ALIAS_WORDS)]
    return f"{ALIAS_PREFIX} {word} {digits[-4:]}"


# -- the shapes the service, the command line and the screens share ----------------------------------------------------

UNKNOWN_EXTENSION: Final = "http://fhir.hl7.org.vn/core/StructureDefinition/unidentified-arrival"
"""Patient extension carrying what the ER recorded about an unidentified arrival: `arrival` (valueDateTime),
`estimatedAge` (valueInteger, years), `description` (valueString: clothing, where found)."""
LINK_OPERATION: Final = "$link-identity"
UNLINK_OPERATION: Final = "$unlink-identity"
"""`POST Patient/{temporary id}/$link-identity` with Parameters `target` (valueReference `Patient/{id}`), and
`POST Patient/{temporary id}/$unlink-identity`: the reference server's linking, each answering the temporary
Patient as it now is (with `Patient.link`)."""


class UnknownArrival(BaseModel):
    """What the ER types for a person it cannot identify: under ten seconds of typing, everything optional but the
    arrival time."""

    model_config = ConfigDict(frozen=True)

    sex: Sex = Sex.UNKNOWN
    estimated_age: Annotated[int | None, Field(ge=0, le=120)] = None
    birth_year: Annotated[int | None, Field(ge=1900, le=2100)] = None
    arrival: dt.datetime
    description: Annotated[str, Field(max_length=500)] = ""
    photo_jpeg: bytes | None = None


class TemporaryPatient(BaseModel):
    """A temporary identity: valid from the first second, created on the server (`patient_id` set) or queued in the
    outbox until it returns (`status == "queued"`)."""

    model_config = ConfigDict(frozen=True)

    number: str
    alias: NameText
    arrival: dt.datetime
    status: Literal["created", "queued", "failed"]
    patient_id: str | None = None
    message: str = ""


class IdentityLink(BaseModel):
    """One step of a temporary identity's history: linked to a real patient, or that link undone; who and when."""

    model_config = ConfigDict(frozen=True)

    action: Literal["linked", "unlinked"]
    temporary_number: str
    patient_id: str
    at: dt.datetime
    staff_id: str | None = None


class LinkResult(BaseModel):
    """The answer to a link or an undo: done (with the history as the server keeps it), queued, or refused."""

    model_config = ConfigDict(frozen=True)

    status: Literal["linked", "unlinked", "queued", "failed"]
    message: str = ""
    history: tuple[IdentityLink, ...] = ()
