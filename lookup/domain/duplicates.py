"""Possible duplicate patients: two records of the coordination system that may be one person, why the matching
engine thinks so, and what a staff member decided about them.

The coordination system holds duplicates (one person registered twice, under two record ids). The kiosk finds the
likely ones among the patients it has cached (`lookup.service.duplicate_pairs`), a staff member compares the two
records side by side and decides, and a `same` decision is sent to the server as a FHIR Linkage where the server
takes one (`lookup.service.duplicate_review`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lookup.domain.model import DisplayText, DomainModel, FieldAgreement, PatientRecord


class IdentifierAgreement(DomainModel):
    """How the two records' numbers of one system compare: one number on both, or two different numbers."""

    system: Annotated[str, Field(min_length=1)]
    level: Literal["agrees", "differs"]


class DuplicatePair(DomainModel):
    """Two records that may be one person, `first` before `second` in id order, with a 0..1 score (the matching
    engine's probability that they are one person, a shared number counted in) and the reasons."""

    first: PatientRecord
    second: PatientRecord
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    identifiers: tuple[IdentifierAgreement, ...] = ()
    """The systems both records carry a number of, and whether the numbers agree."""
    agreements: tuple[FieldAgreement, ...] = ()
    """The engine's field by field comparison of the second record with the first."""

    @model_validator(mode="after")
    def _two_records_in_order(self) -> DuplicatePair:
        if self.first.id >= self.second.id:
            raise ValueError("a pair holds two different records, the lower id first")
        return self

    @property
    def shares_number(self) -> bool:
        """One identifier (a CCCD, an insurance number) is on both records."""
        return any(i.level == "agrees" for i in self.identifiers)


class QueuedDuplicate(DomainModel):
    """A pair waiting in the review queue, and since when."""

    pair: DuplicatePair
    found_at: dt.datetime


class DuplicateDecision(StrEnum):
    """What a staff member said about a pair."""

    SAME = "same"
    DIFFERENT = "different"


class DecisionStatus(StrEnum):
    """What became of a decision.

    `sent`: the same person, and the server holds the Linkage saying so (it lists Linkage create);
    `queued`: the same person, the Linkage waiting in the outbox while the server does not answer;
    `unsupported`: the same person, kept on this kiosk only, since the server does not take Linkage;
    `refused`: the same person, kept on this kiosk only, since the server refused the Linkage (the reason says why);
    `pending`: the same person, kept here while the server cannot be asked; sent when it answers, if it takes them;
    `local`: not the same person, which stays on this kiosk (the server is never told);
    `decided-before`: someone decided the pair already, and that decision stands;
    `failed`: nothing was recorded (the reason says why)."""

    SENT = "sent"
    QUEUED = "queued"
    UNSUPPORTED = "unsupported"
    REFUSED = "refused"
    PENDING = "pending"
    LOCAL = "local"
    DECIDED_BEFORE = "decided-before"
    FAILED = "failed"


class DecisionResult(DomainModel):
    """The outcome of deciding one pair: what stands, by whom and when, and where it went."""

    status: DecisionStatus
    decision: DuplicateDecision | None = None
    staff_id: str | None = None
    decided_at: dt.datetime | None = None
    message: DisplayText = ""


class DuplicateScan(DomainModel):
    """What one scan of the whole cache found: the patients it read, the pairs worth a review among them, and how
    many of those the queue did not hold before."""

    patients: Annotated[int, Field(ge=0)]
    pairs: Annotated[int, Field(ge=0)]
    new: Annotated[int, Field(ge=0)]
