"""The typed messages the app is built from: each user intent and each worker result is one of these.

Screens post intents (a scan was read, a search was asked for, a candidate was chosen); the app starts the named
worker for it; the worker posts its result back. Nothing else carries state between screens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from lookup import Appointment, Demographics, LookupOutcome, PatientRecord, ScanResult

if TYPE_CHECKING:
    from lookup import LookupStep, Ticket


@dataclass
class ScanTextReceived(Message):
    """Raw text from a wedge scanner, a paste or the typed-code field, before it is parsed."""

    text: str
    decoder: str


@dataclass
class ScanReceived(Message):
    """A parsed code, from any source (wedge, camera, typed)."""

    scan: ScanResult


@dataclass
class ScanUnreadable(Message):
    """Text that was no code the kiosk knows; `reason` holds no patient data."""

    reason: str


@dataclass
class CameraStatusChanged(Message):
    """The camera thread's state: `off`, `starting`, `ready` or `failed`."""

    status: str


@dataclass
class SearchRequested(Message):
    """The clerk asked for a demographic search."""

    query: Demographics


@dataclass
class CandidateChosen(Message):
    """The clerk explicitly chose one candidate."""

    patient_id: str


@dataclass
class BreakGlassRequested(Message):
    """Emergency access without consent, with the reason the clerk gave."""

    patient_id: str
    reason: str


@dataclass
class LookupProgressed(Message):
    """One named step of the running lookup started, finished or failed."""

    step: LookupStep


@dataclass
class LookupFinished(Message):
    """A lookup ended with an outcome (which may itself be `offline` or `not-found`)."""

    outcome: LookupOutcome
    generation: int = 0
    """Which lookup this answers; an answer to a lookup the screen has since moved past is dropped."""


@dataclass
class LookupFailed(Message):
    """A lookup ended without an outcome; `key` names the catalogue message to show."""

    key: str
    generation: int = 0


@dataclass
class AppointmentsLoaded(Message):
    """Today's appointments of the patient on screen; `refused` when the server answered with another person's."""

    patient_id: str
    appointments: list[Appointment]
    refused: bool = False


@dataclass
class CheckInFinished(Message):
    """The server's (or the outbox's) answer to a check-in."""

    appointment_id: str
    status: str
    """`checked-in`, `queued` (sent when the server is back) or `failed`."""
    ticket: Ticket | None = None
    """The queue number and room the server gave, when it gave them."""


@dataclass
class IdentityLinkRequested(Message):
    """The nurse asked to link the temporary identity on screen to a real patient (`unlink`: to undo that link);
    `patient` is the record on screen (the temporary one to link, the real one to unlink)."""

    number: str
    patient: PatientRecord
    unlink: bool = False
