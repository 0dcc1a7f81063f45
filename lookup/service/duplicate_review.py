"""The review of possible duplicates as the console uses it: the pairs waiting, and a staff member's decision, kept
in the review queue and, for "same person", sent to the server as a FHIR Linkage where the server takes one.

"Same person" becomes `POST Linkage` (an item `source`, the pair's first record, and an item `alternate`, the
second; the author the staff member who decided), sent only when the server's CapabilityStatement lists Linkage
`create`. It goes through the outbox (kind `duplicate-decision`) with one idempotency key per decision, so it is sent
now when the server answers and later when it does not, and a repeat finds the Linkage already made. When the server
lists no Linkage create the decision stays on this kiosk, and the outcome says so; when it cannot be asked (down,
and never asked before) the decision waits (`pending`) and `send_pending` settles it once it answers. "Not the same
person" is never sent: it only keeps the pair from being offered again. Nothing here raises: a fault of the queue or
the server is an outcome with a sentence, naming no patient.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Final

from pydantic import ValidationError

from lookup.domain.duplicates import DecisionResult, DecisionStatus, DuplicateDecision, DuplicatePair, QueuedDuplicate
from lookup.service.audit import DUPLICATE_KIND, STAFF_SYSTEM, Delivery
from lookup.service.cache_protocol import QueuedDecision, ReviewQueue
from lookup.service.duplicate_finder import pair_of
from lookup.service.outbox_writer import OutboxWriter
from lookup.transport.client import FhirClient
from lookup.transport.faults import FhirError

log = logging.getLogger(__name__)
Json = dict[str, Any]
LINKAGE: Final = "Linkage"


def linkage_resource(source_id: str, alternate_id: str, staff_id: str) -> Json:
    """The Linkage saying two Patients are one person, authored by the staff member who decided."""
    return {
        "resourceType": LINKAGE,
        "active": True,
        "author": {"identifier": {"system": STAFF_SYSTEM, "value": staff_id}},
        "item": [
            {"type": "source", "resource": {"reference": f"Patient/{source_id}"}},
            {"type": "alternate", "resource": {"reference": f"Patient/{alternate_id}"}},
        ],
    }


def decision_key(first: str, second: str) -> str:
    """The outbox idempotency key of the decision about a pair (one per pair, as a pair is decided once); short and
    of the characters an `Idempotency-Key` allows, whatever the ids."""
    low, high = sorted((first, second))
    digest = hashlib.sha256(f"{low}\n{high}".encode()).hexdigest()
    return f"duplicate:{digest[:40]}"


def _result(decided: QueuedDecision, status: DecisionStatus, message: str = "") -> DecisionResult:
    return DecisionResult(
        status=status,
        decision=DuplicateDecision(decided.state),
        staff_id=decided.staff_id,
        decided_at=decided.decided_at,
        message=message,
    )


def waiting_pairs(queue: ReviewQueue, limit: int = 100) -> list[QueuedDuplicate]:
    """The pairs waiting in a queue, likeliest first; a pair that cannot be read back is left out (and logged)."""
    found = []
    for queued in queue.waiting(limit):
        try:
            found.append(QueuedDuplicate(pair=pair_of(queued.details), found_at=queued.found_at))
        except (ValidationError, ValueError):
            log.warning("a queued duplicate pair could not be read; left out")
    return found


class DuplicateReview:
    """The pairs waiting for a decision, and the decisions, for the console and `kiosk duplicates`."""

    def __init__(self, queue: ReviewQueue, writer: OutboxWriter, client: FhirClient) -> None:
        self.queue = queue
        self.writer = writer
        self.client = client

    def waiting(self, limit: int = 100) -> list[QueuedDuplicate]:
        return waiting_pairs(self.queue, limit)

    async def decide(self, pair: DuplicatePair, decision: DuplicateDecision, staff_id: str) -> DecisionResult:
        """Record what `staff_id` decided about `pair`, and send a "same person" to the server where it takes it."""
        if not staff_id.strip():
            return DecisionResult(status=DecisionStatus.FAILED, message="a staff member must be signed in to decide")
        first, second = pair.first.id, pair.second.id
        try:
            before = self.queue.decision(first, second)
            if before is not None:
                return _result(before, DecisionStatus.DECIDED_BEFORE, "this pair was decided before")
            delivery = "pending" if decision is DuplicateDecision.SAME else "local"
            decided = self.queue.decide(first, second, decision.value, staff_id, delivery)
        except Exception as exc:  # a cache fault: the decision is not recorded, and the console says so
            log.warning("a duplicate decision could not be recorded (%s)", type(exc).__name__)
            return DecisionResult(status=DecisionStatus.FAILED, message=f"the decision could not be kept: {exc}")
        if decided.staff_id != staff_id or decided.state != decision.value:
            return _result(decided, DecisionStatus.DECIDED_BEFORE, "this pair was decided at the same moment elsewhere")
        if decision is DuplicateDecision.DIFFERENT:
            return _result(decided, DecisionStatus.LOCAL, "kept on this kiosk; the server is not told")
        return await self._send(decided)

    async def send_pending(self) -> int:
        """Settle the "same person" decisions that waited for the server to be asked; how many it now holds (or
        will, from the outbox)."""
        try:
            waiting = list(self.queue.pending())
        except Exception as exc:
            log.warning("pending duplicate decisions could not be read (%s)", type(exc).__name__)
            return 0
        settled = 0
        for decided in waiting:
            result = await self._send(decided)
            if result.status is DecisionStatus.PENDING:
                break  # the server still cannot be asked: the rest wait too
            settled += result.status in (DecisionStatus.SENT, DecisionStatus.QUEUED)
        return settled

    async def _takes_linkage(self) -> bool | None:
        """Whether the server lists Linkage create; None when it cannot be asked now."""
        try:
            features = await self.client.features()
        except FhirError as exc:
            log.info("the server could not be asked whether it takes Linkage (%s)", exc.kind)
            return None
        return features.lists_interaction(LINKAGE, "create")

    async def _send(self, decided: QueuedDecision) -> DecisionResult:
        takes = await self._takes_linkage()
        if takes is None:
            return _result(decided, DecisionStatus.PENDING, "the server cannot be asked now; sent when it answers")
        if not takes:
            self._settle(decided, "local")
            return _result(decided, DecisionStatus.UNSUPPORTED, "this server does not take Linkage")
        body = linkage_resource(decided.first, decided.second, decided.staff_id)
        sent = await self.writer.send(
            DUPLICATE_KIND,
            decision_key(decided.first, decided.second),
            Delivery(method="POST", path=LINKAGE, body=body),
        )
        if sent.fault is None:
            self._settle(decided, "queued")
            return _result(decided, DecisionStatus.SENT, "the server holds the Linkage")
        if sent.kept:
            self._settle(decided, "queued")
            return _result(decided, DecisionStatus.QUEUED, f"{sent.fault.describe()}; sent when the server answers")
        self._settle(decided, "local")
        return _result(decided, DecisionStatus.REFUSED, sent.fault.describe())

    def _settle(self, decided: QueuedDecision, delivery: str) -> None:
        try:
            self.queue.set_delivery(decided.first, decided.second, delivery)
        except Exception as exc:  # the decision stands; only where it went is not noted
            log.warning("a duplicate decision's delivery could not be noted (%s)", type(exc).__name__)
