"""The one writer of the kiosk's outbox: audit events and queued check-ins go in, and are delivered from it.

Every message is an idempotent request (`PUT AuditEvent/{uuid}` with the uuid made when the event was built, or
`PUT Appointment/{id}` of the whole resource with status `arrived`), so a message delivered twice, after a crash or
a lost acknowledgement, replaces the same resource on the server. An audit event is never dropped: without an
outbox, or when the outbox cannot take it, it is sent at once in the background, best effort.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from lookup.service.audit import AUDIT_KIND, CHECK_IN_KIND, Action, Delivery, Result, audit_delivery, audit_event
from lookup.service.cache_protocol import Outbox
from lookup.transport.client import FhirClient
from lookup.transport.faults import FhirError

log = logging.getLogger(__name__)
DELIVERY_BATCH = 50


class OutboxWriter:
    """Queues audit events and check-ins in the outbox and delivers what waits there, counting both."""

    def __init__(self, client: FhirClient, outbox: Outbox | None) -> None:
        self.client = client
        self.outbox = outbox
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
        )
        delivery = audit_delivery(event)
        if self.outbox is not None:
            try:
                self._append(self.outbox, AUDIT_KIND, str(event["id"]), delivery)
                return
            except Exception as exc:
                log.warning("could not queue an audit event (%s); sending it directly", type(exc).__name__)
        task = asyncio.get_running_loop().create_task(self._send_now(delivery))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def check_in(self, arrived: dict[str, Any]) -> bool:
        """Queue the check-in of an appointment (the whole resource, status `arrived`); False when it was not kept."""
        if self.outbox is None:
            return False
        delivery = Delivery(path=f"Appointment/{arrived['id']}", body=arrived)
        try:
            self._append(self.outbox, CHECK_IN_KIND, f"check-in:{arrived['id']}", delivery)
        except Exception as exc:
            log.warning("could not queue a check-in (%s)", type(exc).__name__)
            return False
        return True

    async def deliver(self, batch: int = DELIVERY_BATCH) -> int:
        """Deliver what waits in the outbox; the number acknowledged by the server.

        Acknowledged messages leave the outbox and refused ones fail with their reason; when the server is gone
        again, the rest of the batch waits for the next delivery.
        """
        if self.outbox is None:
            return 0
        delivered = 0
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
                    await self.client.put(delivery.path, delivery.body)
                except FhirError as exc:
                    if exc.offline:
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

    async def _send_now(self, delivery: Delivery) -> None:
        try:
            await self.client.put(delivery.path, delivery.body)
        except FhirError as exc:
            log.warning("an audit event could not be delivered (%s)", exc.kind)
