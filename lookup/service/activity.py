"""What the kiosk's activity log learns of each audited action, beside its AuditEvent (`cache_protocol.ActivityLog`).

The one writer of the kiosk's AuditEvents (`OutboxWriter.audit`) hands each event to an `ActivityRecorder`, so the
log has one row per event, dated by the event's own `recorded` instant, and the admin console's counts for a period
equal the server's count of the kiosk's AuditEvents for it. The row adds what the event does not carry: the kiosk's
name, the kind of identifier the lookup began from (set once per lookup with `asking`, for every event the lookup
writes wherever in its flow), and the answer's facts (`Shown`: whether it came from the offline cache, how many
documents shown were unsigned or failed their signature check, and the outcome when the status says more than the
audit result, such as `candidates`). Kinds, counts and flags only: never an identifier, a name or a birth date.

A log that cannot take a row never fails the lookup nor the audit event: the fault's type is logged, nothing else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from lookup.domain.identifiers import IdentifierSystems
from lookup.domain.model import FAILED_SIGNATURES, Demographics, Identifier, LookupOutcome, SignatureStatus
from lookup.domain.staff import StaffMember
from lookup.service.audit import Action, Result
from lookup.service.cache_protocol import ActivityLog

log = logging.getLogger(__name__)

DEMOGRAPHIC = "demographic"
"""A search by name, birth date and the like."""
RECORD = "record"
"""A record opened by its id: a candidate chosen, a record confirmed, the glass broken on a record shown."""
HEALTH_LINK = "health-link"
OTHER = "other"
"""An identifier of a system the kiosk's table does not name."""
UNVERIFIED_SIGNATURES: Final = frozenset({SignatureStatus.UNSIGNED, SignatureStatus.UNKNOWN_SIGNER})
"""Documents shown without a signature the trust list vouches for."""

_OUTCOMES: Final[Mapping[Result, str]] = {
    "success": "found",
    "not-found": "not-found",
    "consent-required": "consent-required",
    "failed": "error",
    "offline": "offline",
    "wrong-patient": "wrong-patient",
    "identity-mismatch": "identity-mismatch",
    "identity-confirmed": "identity-confirmed",
}
_OUTCOMES_OF: Final[Mapping[tuple[Action, Result], str]] = {
    ("check-in", "success"): "checked-in",
    ("check-in", "offline"): "queued",
    ("break-glass", "failed"): "refused",
}
"""Where an action's result has a word of its own: a check-in is checked in or queued, not found; a break-glass that
failed was refused (the server found no real reason in it)."""

_ASKED: ContextVar[str | None] = ContextVar("activity_identifier_type", default=None)


def outcome_word(action: Action, result: Result) -> str:
    """How an audited action ended, in the log's words."""
    return _OUTCOMES_OF.get((action, result), _OUTCOMES[result])


def identifier_type(
    systems: IdentifierSystems,
    identifiers: Sequence[Identifier] = (),
    query: Demographics | None = None,
    patient_id: str | None = None,
) -> str | None:
    """The kind of identifier a lookup begins from: the kind of its first identifier (`cccd`, `bhyt`, `temporary`...),
    `demographic` for a search, `record` for a record opened by its id; None when it begins from none."""
    if identifiers:
        kind = systems.kind(identifiers[0].system)
        return kind.value if kind is not None else OTHER
    if query is not None:
        return DEMOGRAPHIC
    if patient_id is not None:
        return RECORD
    return None


@contextlib.contextmanager
def asking(kind: str | None) -> Iterator[None]:
    """The kind of identifier of the lookup run inside the block, for every audit event it writes (a lookup is one
    task: lookups running side by side each keep their own)."""
    token = _ASKED.set(kind)
    try:
        yield
    finally:
        _ASKED.reset(token)


class Shown(BaseModel):
    """The facts of one audited answer that its AuditEvent does not carry."""

    model_config = ConfigDict(frozen=True)

    outcome: str | None = None
    """The outcome when the answer's status says more than the audit result (`candidates`, a cache's answer)."""
    offline: bool = False
    """The answer came from the offline cache."""
    unsigned: int = 0
    invalid: int = 0

    @classmethod
    def of(cls, outcome: LookupOutcome, *, offline: bool = False) -> Shown:
        """The facts of a lookup's outcome: its documents' signatures and, from the cache, its status."""
        documents = outcome.summary.documents if outcome.summary is not None else ()
        statuses = [document.signature.status for document in documents]
        return cls(
            outcome=outcome.status.value if offline else None,
            offline=offline,
            unsigned=sum(1 for status in statuses if status in UNVERIFIED_SIGNATURES),
            invalid=sum(1 for status in statuses if status in FAILED_SIGNATURES),
        )


CANDIDATES = Shown(outcome="candidates")
"""An answer listing people for a person to choose from."""


class ActivityRecorder:
    """Writes the activity log's row of each audit event this kiosk writes."""

    def __init__(self, activity: ActivityLog, kiosk: str, mode: str) -> None:
        self._activity = activity
        self.kiosk = kiosk
        self._mode = mode

    def record(
        self, event: Mapping[str, Any], action: Action, result: Result, staff: StaffMember | None, shown: Shown | None
    ) -> None:
        """The row of `event`; a log that fails is logged by the fault's type and the lookup goes on."""
        facts = shown or Shown()
        try:
            self._activity.record(
                str(event["id"]),
                dt.datetime.fromisoformat(str(event["recorded"])),
                kiosk=self.kiosk,
                staff=staff.staff_id if staff is not None else None,
                mode=self._mode,
                action=action,
                outcome=facts.outcome or outcome_word(action, result),
                identifier_type=_ASKED.get(),
                offline=facts.offline,
                unsigned=facts.unsigned,
                invalid=facts.invalid,
            )
        except Exception as exc:  # the audit event is what must not be lost; the console's row may be
            log.warning("the activity log did not take an action (%s)", type(exc).__name__)
