"""The one writer of the kiosk's outbox: every message to the server goes in, and is delivered from it.

Every message is an idempotent request (`PUT AuditEvent/{uuid}` with the uuid made when the event was built, or
`PUT Appointment/{id}` of the whole resource with status `arrived`, `PUT Encounter/walkin-{key}` of a walk-in,
`POST Patient` of an unknown patient, which the server answers with the Patient it already holds for that temporary
number, or `POST Patient/{id}/$link-identity` / `$unlink-identity`, whose key is made once per decision), so a
message delivered twice, after a crash or a lost acknowledgement, replaces or finds the same resource on the server.
Each carries its idempotency key in the `Idempotency-Key` header too. The outbox keeps each message, and the kiosk
that queued it, to the server's acknowledgement and then its receipt (`lookup.service.receipts`): check-ins,
registrations and links made while someone waits are written to it before they are sent (`send`), so a kiosk that
stops half-way still delivers them, and the console lists them beside the audit events. An audit event is never dropped:
without an outbox, or when the outbox cannot take it, it is written to the durable audit journal (`audit_journal`) and
sent at once in the background; the journal keeps it until the server acknowledges it, across a server that is down
and a process that ends, and every delivery sends what waits there first.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lookup.domain.staff import StaffMember
from lookup.service.activity import ActivityRecorder, Shown
from lookup.service.audit import (
    AUDIT_KIND,
    CHECK_IN_KIND,
    IDEMPOTENCY_HEADER,
    REGISTRATION_KIND,
    Action,
    Delivery,
    Result,
    audit_delivery,
    audit_event,
)
from lookup.service.audit_journal import AuditJournal
from lookup.service.cache_protocol import ActivityLog, Outbox, OutboxEntry
from lookup.service.receipts import Receipt, receipt_of
from lookup.transport.client import Answer, FhirClient, Json
from lookup.transport.faults import REFUSED_KINDS, FaultKind, FhirError

log = logging.getLogger(__name__)
DELIVERY_BATCH = 50
REFUSED_EVENT = frozenset({FaultKind.BAD_REQUEST, FaultKind.NOT_FOUND, FaultKind.NOT_SUPPORTED})
"""Answers that refuse the event itself: a journal event so refused is set aside, never sent again. Any other fault
keeps it waiting."""


@dataclass(frozen=True)
class Sent:
    """What became of a message sent while someone waits: the server's answer, or the fault and whether the outbox
    keeps the message for a later try."""

    answer: Json | None = None
    fault: FhirError | None = None
    kept: bool = False
    """The fault is one the server may get over (it was down, or sent the kiosk elsewhere) and the outbox holds the
    message: it goes with a later delivery."""


def check_in_message(arrived: dict[str, Any]) -> tuple[str, Delivery]:
    """The idempotency key and request of a check-in (the whole Appointment, status `arrived`) or a walk-in (its
    Encounter `arrived`, under the id made from its own key)."""
    path = f"{arrived.get('resourceType', 'Appointment')}/{arrived['id']}"
    return f"check-in:{arrived['id']}", Delivery(path=path, body=arrived)


def registration_message(patient: dict[str, Any], number: str) -> tuple[str, Delivery]:
    """The idempotency key and request of an unknown patient's creation (`POST Patient`, one per temporary number)."""
    return f"register:{number}", Delivery(method="POST", path="Patient", body=patient)


def _waits(fault: FhirError) -> bool:
    """Whether a message that met this fault waits for a later try (else the server refused it)."""
    return fault.offline or fault.kind in REFUSED_KINDS


class OutboxWriter:
    """Queues every message to the server in the outbox (or sends it there first, while someone waits) and delivers
    what waits, each with its receipt, counting both."""

    def __init__(
        self,
        client: FhirClient,
        outbox: Outbox | None,
        staff: Callable[[], StaffMember | None] = lambda: None,
        journal: AuditJournal | None = None,
        kiosk_name: str | None = None,
        activity: ActivityLog | None = None,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.kiosk_name = kiosk_name or socket.gethostname() or "kiosk"
        """The name every message this kiosk queues carries (`settings.kiosk_name`; the host name by default)."""
        self.activity = None if activity is None else ActivityRecorder(activity, self.kiosk_name, client.config.mode)
        """Writes each audit event's row of the admin console's activity log (None: the kiosk keeps no log)."""
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
        *,
        shown: Shown | None = None,
    ) -> None:
        """Queue the AuditEvent of one action, and keep its row in the activity log with `shown`, the answer's facts
        the event does not carry; without an outbox the event is sent in the background, best effort."""
        staff = self._staff()
        event = audit_event(
            action=action,
            result=result,
            client_id=self.client.config.client_id,
            mode=self.client.config.mode,
            patient_id=patient_id,
            break_glass=glass,
            reason=reason,
            staff=staff,
        )
        if self.activity is not None:
            self.activity.record(event, action, result, staff, shown)
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
        key, delivery = check_in_message(arrived)
        try:
            self._append(self.outbox, CHECK_IN_KIND, key, delivery)
        except Exception as exc:
            log.warning("could not queue a check-in (%s)", type(exc).__name__)
            return False
        return True

    def create(self, patient: dict[str, Any], number: str) -> bool:
        """Queue the creation of an unknown patient (`POST Patient`, idempotent by its temporary number); False when
        it was not kept."""
        if self.outbox is None:
            return False
        key, delivery = registration_message(patient, number)
        try:
            self._append(self.outbox, REGISTRATION_KIND, key, delivery)
        except Exception as exc:
            log.warning("could not queue a registration (%s)", type(exc).__name__)
            return False
        return True

    async def send_check_in(self, arrived: dict[str, Any]) -> Sent:
        """Check in (or record a walk-in) now, tracked in the outbox (`send`)."""
        key, delivery = check_in_message(arrived)
        return await self.send(CHECK_IN_KIND, key, delivery)

    async def send_registration(self, patient: dict[str, Any], number: str) -> Sent:
        """Create an unknown patient now, tracked in the outbox (`send`)."""
        key, delivery = registration_message(patient, number)
        return await self.send(REGISTRATION_KIND, key, delivery)

    async def send(self, kind: str, key: str, delivery: Delivery) -> Sent:
        """Send one message now, while someone waits, tracked in the outbox from before it leaves to the server's
        answer: delivered with its receipt; kept for a later try when the server cannot answer now; given up with
        the reason when it refuses. Without an outbox (or one that cannot take it) it is sent once, untracked."""
        entry: OutboxEntry | None = None
        tracked = False
        if self.outbox is not None:
            try:
                self._append(self.outbox, kind, key, delivery)
                tracked = True
                # Claimed under a lease, so a delivery running meanwhile does not send it a second time.
                entry = next(iter(self.outbox.claim(1, key=key)), None)
            except Exception as exc:
                log.warning("could not keep a %s message (%s); sending it directly", kind, type(exc).__name__)
        try:
            answer = await self._send(delivery, key)
        except FhirError as exc:
            self._record(entry, fault=exc)
            return Sent(fault=exc, kept=tracked and _waits(exc))
        self._record(entry, receipt=receipt_of(delivery, answer))
        return Sent(answer=answer.body)

    def _record(
        self, entry: OutboxEntry | None, *, fault: FhirError | None = None, receipt: Receipt | None = None
    ) -> None:
        """Record what became of a message sent while someone waits. When the outbox cannot, the lease brings the
        message back to a later delivery, and its idempotent request is harmless."""
        if entry is None or self.outbox is None:
            return
        try:
            if fault is None:
                self.outbox.acknowledge(entry.id, receipt)
                self.delivered += 1
            else:
                # Whoever waited was told it goes with the next delivery: it is due then, not after a backoff.
                self.outbox.fail(entry.id, fault.describe(), retry=_waits(fault), backoff=False)
        except Exception as exc:
            log.warning("could not record a delivery in the outbox (%s)", type(exc).__name__)

    async def _send(self, delivery: Delivery, key: str) -> Answer:
        return await self.client.send(delivery.method, delivery.path, delivery.body, headers={IDEMPOTENCY_HEADER: key})

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
                    answer = await self._send(delivery, entry.idempotency_key)
                except FhirError as exc:
                    # A server that would take the kiosk's credentials elsewhere never saw the event: it waits.
                    if _waits(exc):
                        for rest in entries[position:]:
                            self.outbox.fail(rest.id, exc.describe(), retry=True)
                        return delivered
                    self.outbox.fail(entry.id, exc.describe(), retry=False)
                    continue
                self.outbox.acknowledge(entry.id, receipt_of(delivery, answer))
                delivered += 1
                self.delivered += 1
            if len(entries) < batch:
                return delivered

    async def drain(self) -> None:
        """Wait until the audit events being sent in the background are gone."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _append(self, outbox: Outbox, kind: str, key: str, delivery: Delivery) -> None:
        outbox.append(kind, key, delivery.encode(), kiosk=self.kiosk_name)
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
