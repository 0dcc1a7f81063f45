"""The one writer of the kiosk's outbox: audit events and queued check-ins go in, and are delivered from it.

Every message is an idempotent request (`PUT AuditEvent/{uuid}` with the uuid made when the event was built, or
`PUT Appointment/{id}` of the whole resource with status `arrived`, or `POST Patient` of an unknown patient, which the
server answers with the Patient it already holds for that temporary number), so a message delivered twice, after a
crash or a lost acknowledgement, replaces or finds the same resource on the server. An audit event is never dropped:
without an outbox, or when the outbox cannot take it, it is written to the durable audit journal (`audit_journal`) and
sent at once in the background; the journal keeps it until the server acknowledges it, across a server that is down
and a process that ends, and every delivery sends what waits there first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lookup.domain.staff import StaffMember
from lookup.service.audit import (
    AUDIT_KIND,
    CHECK_IN_KIND,
    REGISTRATION_KIND,
    Action,
    Delivery,
    Result,
    audit_delivery,
    audit_event,
)
from lookup.service.audit_journal import AuditJournal
from lookup.service.cache_protocol import Outbox
from lookup.transport.client import FhirClient
from lookup.transport.faults import REFUSED_KINDS, FaultKind, FhirError

log = logging.getLogger(__name__)
DELIVERY_BATCH = 50
REFUSED_EVENT = frozenset({FaultKind.BAD_REQUEST, FaultKind.NOT_FOUND, FaultKind.NOT_SUPPORTED})
"""Answers that refuse the event itself: a journal event so refused is set aside, never sent again. Any other fault
keeps it waiting."""


class OutboxWriter:
    """Queues audit events and check-ins in the outbox and delivers what waits there, counting both."""

    def __init__(
        self,
        client: FhirClient,
        outbox: Outbox | None,
        staff: Callable[[], StaffMember | None] = lambda: None,
        journal: AuditJournal | None = None,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.journal = journal
        """Where an audit event the outbox cannot take waits for the server (None: sent once, best effort)."""
        self._sending: set[str] = set()
        """The journal files of the events being sent in the background, which a delivery leaves alone."""
        self._staff = staff
        """The staff member signed in when an event is written: the event names them."""
        self.queued = 0
        """Messages this kiosk put in the outbox since it started."""
        self.delivered = 0
        """Messages the server acknowledged since the kiosk started."""
        self._background: set[asyncio.Task[None]] = set()

    @property
    def keeps_messages(self) -> bool:
        """Whether there is an outbox to keep a message until the server is back."""
        return self.outbox is not None

    def audit(
        self,
        action: Action,
        result: Result,
        patient_id: str | None,
        glass: bool = False,
        reason: str | None = None,
    ) -> None:
        """Queue the AuditEvent of one action; without an outbox it is sent in the background, best effort."""
        event = audit_event(
            action=action,
            result=result,
            client_id=self.client.config.client_id,
            mode=self.client.config.mode,
            patient_id=patient_id,
            break_glass=glass,
            reason=reason,
            staff=self._staff(),
        )
        delivery = audit_delivery(event)
        if self.outbox is not None:
            try:
                self._append(self.outbox, AUDIT_KIND, str(event["id"]), delivery)
                return
            except Exception as exc:
                log.warning("could not queue an audit event (%s); sending it directly", type(exc).__name__)
        kept = self._keep(delivery)
        task = asyncio.get_running_loop().create_task(self._send_now(delivery, kept))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def check_in(self, arrived: dict[str, Any]) -> bool:
        """Queue a check-in (the whole Appointment, status `arrived`) or a walk-in (its Encounter `arrived`, under the
        id made from its idempotency key); False when it was not kept."""
        if self.outbox is None:
            return False
        delivery = Delivery(path=f"{arrived.get('resourceType', 'Appointment')}/{arrived['id']}", body=arrived)
        try:
            self._append(self.outbox, CHECK_IN_KIND, f"check-in:{arrived['id']}", delivery)
        except Exception as exc:
            log.warning("could not queue a check-in (%s)", type(exc).__name__)
            return False
        return True

    def create(self, patient: dict[str, Any], number: str) -> bool:
        """Queue the creation of an unknown patient (`POST Patient`, idempotent by its temporary number); False when
        it was not kept."""
        if self.outbox is None:
            return False
        delivery = Delivery(method="POST", path="Patient", body=patient)
        try:
            self._append(self.outbox, REGISTRATION_KIND, f"register:{number}", delivery)
        except Exception as exc:
            log.warning("could not queue a registration (%s)", type(exc).__name__)
            return False
        return True

    async def _send(self, delivery: Delivery) -> None:
        if delivery.method == "POST":
            await self.client.post(delivery.path, delivery.body, idempotent=True)
        else:
            await self.client.put(delivery.path, delivery.body)

    async def deliver(self, batch: int = DELIVERY_BATCH) -> int:
        """Deliver what waits in the audit journal, then in the outbox; the number acknowledged by the server.

        Acknowledged messages leave the outbox and refused ones fail with their reason; when the server is gone
        again, the rest of the batch waits for the next delivery.
        """
        delivered = await self._deliver_journal()
        if self.outbox is None:
            return delivered
        while True:
            entries = list(self.outbox.claim(batch))
            if not entries:
                return delivered
            for position, entry in enumerate(entries):
                try:
                    delivery = Delivery.decode(entry.payload)
                except (ValidationError, ValueError):
                    self.outbox.fail(entry.id, "the queued message is unreadable", retry=False)
                    continue
                try:
                    await self._send(delivery)
                except FhirError as exc:
                    # A server that would take the kiosk's credentials elsewhere never saw the event: it waits.
                    if exc.offline or exc.kind in REFUSED_KINDS:
                        for rest in entries[position:]:
                            self.outbox.fail(rest.id, exc.describe(), retry=True)
                        return delivered
                    self.outbox.fail(entry.id, exc.describe(), retry=False)
                    continue
                self.outbox.acknowledge(entry.id)
                delivered += 1
                self.delivered += 1
            if len(entries) < batch:
                return delivered

    async def drain(self) -> None:
        """Wait until the audit events being sent in the background are gone."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _append(self, outbox: Outbox, kind: str, key: str, delivery: Delivery) -> None:
        outbox.append(kind, key, delivery.encode())
        self.queued += 1

    def _keep(self, delivery: Delivery) -> Path | None:
        """Write the event to the journal before it is sent; None when there is no journal or it cannot be written."""
        if self.journal is None:
            return None
        try:
            kept = self.journal.keep(delivery)
        except (OSError, ValueError) as exc:
            log.warning("could not keep an audit event in the journal (%s)", type(exc).__name__)
            return None
        self._sending.add(str(kept))
        return kept

    async def _send_now(self, delivery: Delivery, kept: Path | None) -> None:
        try:
            await self.client.put(delivery.path, delivery.body)
        except FhirError as exc:
            kept_note = "; the journal keeps it" if kept is not None else ""
            log.warning("an audit event could not be delivered (%s)%s", exc.kind, kept_note)
            return
        finally:
            if kept is not None:
                self._sending.discard(str(kept))
        if kept is not None and self.journal is not None:
            self._forget(self.journal, kept)

    async def _deliver_journal(self) -> int:
        """Send the events the journal keeps for this server (not those being sent now); the number acknowledged."""
        if self.journal is None:
            return 0
        try:
            waiting = self.journal.pending()
        except OSError as exc:
            log.warning("the audit journal cannot be read (%s)", type(exc).__name__)
            return 0
        delivered = 0
        for path, delivery in waiting:
            if str(path) in self._sending:
                continue
            try:
                await self.client.put(delivery.path, delivery.body)
            except FhirError as exc:
                if exc.kind not in REFUSED_EVENT:
                    # Down, or not accepting this kiosk now (credentials, a redirect): the events wait for later.
                    return delivered
                self.journal.set_aside(path, exc.describe())
                continue
            self._forget(self.journal, path)
            delivered += 1
            self.delivered += 1
        return delivered

    @staticmethod
    def _forget(journal: AuditJournal, path: Path) -> None:
        try:
            journal.remove(path)
        except OSError as exc:  # sent twice at worst: the PUT is idempotent
            log.warning("a delivered audit event could not be removed from the journal (%s)", type(exc).__name__)
