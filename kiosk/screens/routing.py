"""What the kiosk shows after a lookup, by outcome and mode: one decision table, kept apart from the app's wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.i18n import fault_words
from kiosk.screens.base import KioskScreen
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.identity import CardNotFoundScreen, IdentityMismatchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode
from kiosk.widgets.context import KioskContext
from lookup import LookupOutcome, LookupSource, LookupStatus, PatientRecord

if TYPE_CHECKING:
    from lookup import LookupService


@dataclass(frozen=True, slots=True)
class ShowScreen:
    """Open this screen in place of the previous result."""

    screen: KioskScreen


@dataclass(frozen=True, slots=True)
class ShowNotice:
    """Tell the clerk why nothing opened, in catalogue words, with the service's own sentence as detail."""

    title_key: str
    body_key: str
    detail: str | None = None
    alert: bool = False
    """Drawn in red: the clerk must not miss it."""


@dataclass(frozen=True, slots=True)
class AskBreakGlass:
    """Consent is missing and this is the ER: offer emergency access to this patient."""

    patient_id: str
    patient: PatientRecord | None = None
    """Whom the dialog names (full name, birth date, an identifier), so the glass is broken for the right person."""


NextStep = ShowScreen | ShowNotice | AskBreakGlass


def next_step(context: KioskContext, outcome: LookupOutcome, lookup: LookupService) -> NextStep:
    """ER opens the summary (or asks to break the glass); reception and lobby open the visit (check-in) screen.
    The lobby never lists candidates: a patient must not browse other people, so reception helps instead."""
    patient = outcome.patient or (outcome.summary.patient if outcome.summary else None)
    status = outcome.status
    if status is LookupStatus.WRONG_PATIENT:
        # First, whatever the mode: the server answered about someone else, and nothing of it may open.
        return ShowNotice("wrong-patient.title", "wrong-patient.body", alert=True)
    if status is LookupStatus.IDENTITY_MISMATCH:
        # Nothing clinical was asked for: staff compare card and record side by side; a patient asks reception.
        if context.lobby or patient is None:
            return ShowNotice("lobby.ask-reception.title", "identity.lobby", alert=True)
        return ShowScreen(IdentityMismatchScreen(context, outcome, patient))
    if status is LookupStatus.NOT_FOUND and outcome.fallback is not None and not context.lobby:
        # The number is on no record: said first, with a search by the card's name offered, never run by itself.
        return ShowScreen(CardNotFoundScreen(context, outcome.fallback))
    if status is LookupStatus.CANDIDATES:
        if context.lobby:
            return ShowNotice("lobby.ask-reception.title", "lobby.ask-reception")
        cached = outcome.source is LookupSource.CACHE
        return ShowScreen(CandidatesScreen(context, outcome.candidates, cached=cached))
    if status in (LookupStatus.FOUND, LookupStatus.CONSENT_REQUIRED) and patient is not None:
        if context.mode is not Mode.ER:
            return ShowScreen(VisitScreen(context, outcome, patient, lookup))
        if status is LookupStatus.CONSENT_REQUIRED:
            return AskBreakGlass(patient.id, patient)
        return ShowScreen(SummaryScreen(context, outcome, patient))
    # The detail is the fault in the clerk's language; the service's English sentence is for logs and JSON.
    detail = fault_words(context.t, outcome.fault)
    if status is LookupStatus.OFFLINE:
        return ShowNotice("offline.title", "offline.body", detail)
    if status is LookupStatus.REFUSED:
        return ShowNotice("refused.title", "refused.body", detail)
    # The lobby offers no name search: a patient who is not found goes to reception.
    return ShowNotice("notfound.title", "lobby.notfound" if context.lobby else "notfound.body", detail)
