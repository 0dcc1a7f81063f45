"""The ER's unidentified patients: a temporary identity made at once, created on the server or queued in the outbox,
linked later to the real patient (and unlinked), and a health-insurance card's validity from the gateway.

The temporary number is made on the kiosk, so the person has a wristband number in the first second whatever the
network does. Creating the Patient is `POST Patient` with that number as its only identifier; the server answers the
same POST again with the Patient it already holds, so the outbox may deliver it twice without a duplicate. The
temporary identity is also kept in the encrypted cache (`temporary/{number}`, and as a patient record indexed by the
number) so a lookup of the number answers offline.

Every registration, link and undo is a message of the outbox (`OutboxWriter.send`): written there before it is sent,
delivered with its receipt while the clerk waits, kept for a later delivery when the server cannot answer. A link or
an undo gets its idempotency key once, when the clerk decides, so a repeat after a lost answer is recognised by the
server as the same decision and never applied twice.

Following a link is where a wrong person could appear: the Patient the server finds for a temporary number must carry
that number and name exactly one real patient as `replaced-by`; the real patient is then read by that id, and the
outcome says it was reached through the temporary identity. Anything else is refused, never guessed.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any, Final

import orjson
from pydantic import ValidationError

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import FHIR_ID, Eligibility, Identifier, PatientRecord
from lookup.domain.temporary import (
    ALIAS_PREFIX,
    LINK_OPERATION,
    TEMPORARY_SYSTEM,
    UNKNOWN_EXTENSION,
    UNLINK_OPERATION,
    IdentityLink,
    LinkResult,
    TemporaryPatient,
    UnknownArrival,
    new_temporary_number,
    temporary_alias,
    temporary_number,
)
from lookup.fhir.bundles import search_entries
from lookup.fhir.patient import identifiers_of, patient_record
from lookup.fhir.primitives import parse_date, parse_datetime
from lookup.fhir.references import target
from lookup.service.audit import LINK_KIND, UNLINK_KIND, Delivery
from lookup.service.binding import WrongPatientError
from lookup.service.offline_store import OfflineStore
from lookup.service.outbox_writer import OutboxWriter
from lookup.transport.client import FhirClient
from lookup.transport.faults import FaultKind, FhirError

log = logging.getLogger(__name__)
Json = dict[str, Any]
BENEFIT_LEVEL: Final = "http://fhir.hl7.org.vn/core/StructureDefinition/bhyt-benefit-level"
BHYT_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.BHYT)
TEMPORARY_KEY: Final = "temporary/"


def temporary_identifier(number: str) -> Identifier:
    """The FHIR identifier of a (canonical) temporary number."""
    return Identifier(system=TEMPORARY_SYSTEM, value=number)


def patient_resource(number: str, arrival: UnknownArrival) -> Json:
    """The Patient the server is asked to create: the temporary identifier alone, the alias as a `temp` name."""
    alias = temporary_alias(number)
    word, last4 = alias.removeprefix(ALIAS_PREFIX).split()
    extension: list[Json] = [{"url": "arrival", "valueDateTime": arrival.arrival.isoformat()}]
    if arrival.estimated_age is not None:
        extension.append({"url": "estimatedAge", "valueInteger": arrival.estimated_age})
    if arrival.description:
        extension.append({"url": "description", "valueString": arrival.description})
    resource: Json = {
        "resourceType": "Patient",
        "identifier": [{"system": TEMPORARY_SYSTEM, "value": number}],
        "active": True,
        "name": [{"use": "temp", "text": alias, "family": ALIAS_PREFIX, "given": [word, last4]}],
        "gender": arrival.sex.value,
        "extension": [{"url": UNKNOWN_EXTENSION, "extension": extension}],
    }
    if arrival.birth_year is not None:
        resource["birthDate"] = f"{arrival.birth_year:04d}"
    if arrival.photo_jpeg is not None:
        resource["photo"] = [{"contentType": "image/jpeg", "data": base64.b64encode(arrival.photo_jpeg).decode()}]
    return resource


def _carries(resource: Mapping[str, Any], number: str) -> bool:
    return any(i.system == TEMPORARY_SYSTEM and i.value == number for i in identifiers_of(resource))


def replaced_by(resource: Mapping[str, Any]) -> str | None:
    """The id of the real patient a temporary Patient is linked to (`link.type` `replaced-by`), or None when it is
    not linked. Raises `WrongPatientError` when it names more than one, or one that cannot be read as a Patient id:
    which person it is then is unknown, and no one is opened."""
    found: list[str] = []
    for link in resource.get("link") or []:
        if not isinstance(link, Mapping) or link.get("type") != "replaced-by":
            continue
        named = target(link.get("other"), None, resource)
        if named is None or named.type not in (None, "Patient") or named.id is None or not FHIR_ID.fullmatch(named.id):
            raise WrongPatientError("a temporary identity linked to a patient that cannot be read")
        found.append(named.id)
    if len(set(found)) > 1:
        raise WrongPatientError("a temporary identity linked to more than one patient")
    return found[0] if found else None


def _arrival_of(resource: Mapping[str, Any]) -> dt.datetime | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == UNKNOWN_EXTENSION:
            for part in ext.get("extension") or []:
                if isinstance(part, Mapping) and part.get("url") == "arrival":
                    return parse_datetime(part.get("valueDateTime"))
    return None


def _staff_of(provenance: Mapping[str, Any]) -> str | None:
    """The staff member a Provenance names: an agent identified in a staff system (the kiosk client that acted is an
    agent too, and is no person)."""
    for agent in provenance.get("agent") or []:
        who = agent.get("who") if isinstance(agent, Mapping) else None
        ident = who.get("identifier") if isinstance(who, Mapping) else None
        if (
            isinstance(ident, Mapping)
            and "staff" in str(ident.get("system", ""))
            and isinstance(ident.get("value"), str)
        ):
            return str(ident["value"])
    return None


def _history(bundle: Mapping[str, Any], number: str) -> tuple[IdentityLink, ...]:
    """The Provenances of links and undos, oldest first; those that cannot be read are left out."""
    steps: list[IdentityLink] = []
    for prov in search_entries(bundle, "Provenance"):
        codes = [c.get("code") for c in (prov.get("activity") or {}).get("coding") or [] if isinstance(c, Mapping)]
        action = "linked" if "link" in codes else "unlinked" if "unlink" in codes else None
        entity = next(
            (e for e in prov.get("entity") or [] if isinstance(e, Mapping) and e.get("role") == "source"), None
        )
        named = target(entity.get("what"), None, prov) if entity is not None else None
        at = parse_datetime(prov.get("recorded"))
        if action is None or named is None or named.id is None or at is None:
            continue
        staff = _staff_of(prov)
        try:
            steps.append(
                IdentityLink(action=action, temporary_number=number, patient_id=named.id, at=at, staff_id=staff)
            )
        except ValidationError:
            continue
    return tuple(sorted(steps, key=lambda s: s.at))


def _refusal(exc: FhirError) -> str:
    """The server's refusal in words: its own text when it gave one (an OperationOutcome says why)."""
    if exc.kind is FaultKind.NOT_FOUND:
        return "no such patient on the server"
    if exc.kind is FaultKind.FORBIDDEN:
        return "this kiosk's role may not do this (the ER registers and links unknown patients)"
    base = "the server refused (conflict)" if exc.status == 409 else exc.describe()
    return f"{base}: {exc.server_text}" if exc.server_text else base


class UnknownPatients:
    """Registration, linking and unlinking of temporary identities, and insurance eligibility, sharing the lookup
    service's client, cache and outbox writer."""

    def __init__(self, client: FhirClient, store: OfflineStore, writer: OutboxWriter, *, mode: str) -> None:
        self.client = client
        self.store = store
        self.writer = writer
        self.mode = mode

    # -- registration ----------------------------------------------------------------------------------------

    async def register_unknown(self, arrival: UnknownArrival) -> TemporaryPatient:
        """A temporary identity now: created on the server, else queued in the outbox (never lost, never doubled)."""
        number = new_temporary_number()
        made = TemporaryPatient(number=number, alias=temporary_alias(number), arrival=arrival.arrival, status="queued")
        if self.mode != "er":
            return made.model_copy(update={"status": "failed", "message": "only the ER registers unknown patients"})
        resource = patient_resource(number, arrival)
        sent = await self.writer.send_registration(resource, number)
        exc = sent.fault
        if exc is not None:
            if not exc.offline and not sent.kept:
                return made.model_copy(update={"status": "failed", "message": _refusal(exc)})
            if not sent.kept and not self.writer.create(resource, number):
                return made.model_copy(
                    update={"status": "failed", "message": f"{exc.describe()}; the registration could not be kept"}
                )
            self._keep(made, number)
            return made.model_copy(
                update={"message": f"{exc.describe()}; the patient will be created when the server is back"}
            )
        answer = sent.answer or {}
        record = patient_record(answer)
        if record is None or not _carries(answer, number):
            # Whatever came back is not the Patient just registered: the number stays valid, the server's id is not.
            return made.model_copy(update={"status": "failed", "message": "the server answered with another patient"})
        created = made.model_copy(update={"status": "created", "patient_id": record.id, "message": "created"})
        self._keep(created, record.id, record)
        return created

    def _keep(self, made: TemporaryPatient, patient_id: str, record: PatientRecord | None = None) -> None:
        """Keep the temporary identity in the cache: by number, and as a patient record the number finds offline."""
        cache = self.store.cache
        if cache is None:
            return
        try:
            cache.put(f"{TEMPORARY_KEY}{made.number}", orjson.dumps(made.model_dump(mode="json")), clinical=False)
        except Exception as exc:
            log.warning("could not keep a temporary identity in the cache (%s)", type(exc).__name__)
        if record is None:
            record = PatientRecord(id=patient_id, identifiers=(temporary_identifier(made.number),))
        self.store.save_identity(record)

    def _kept(self, number: str) -> TemporaryPatient | None:
        cache = self.store.cache
        if cache is None:
            return None
        try:
            found = cache.get(f"{TEMPORARY_KEY}{number}")
            return TemporaryPatient.model_validate(orjson.loads(found.payload)) if found is not None else None
        except Exception as exc:
            log.warning("could not read a temporary identity from the cache (%s)", type(exc).__name__)
            return None

    async def _resource(self, number: str) -> Json | None:
        """The server's temporary Patient carrying `number` (checked), or None when it holds none."""
        bundle = await self.client.get("Patient", {"identifier": temporary_identifier(number).token})
        found = search_entries(bundle, "Patient")
        if any(not _carries(r, number) for r in found):
            raise WrongPatientError("a Patient that does not carry the temporary number that was searched for")
        if len(found) > 1:
            raise WrongPatientError("two Patients carrying the same temporary number")
        return found[0] if found else None

    async def temporary_patient(self, number: str) -> TemporaryPatient | None:
        """The temporary identity as the server holds it, else as this kiosk kept it (created or still queued)."""
        canonical = temporary_number(number)
        if canonical is None:
            return None
        try:
            resource = await self._resource(canonical)
        except FhirError as exc:
            log.info("temporary identity not read from the server (%s); using the cache", exc.kind)
            return self._kept(canonical)
        if resource is None:
            return self._kept(canonical)
        kept = self._kept(canonical)
        arrival = _arrival_of(resource) or (kept.arrival if kept is not None else None)
        if arrival is None or not isinstance(resource.get("id"), str):
            return kept
        linked = replaced_by(resource)
        note = f"linked to patient {linked}" if linked is not None else ""
        return TemporaryPatient(
            number=canonical,
            alias=temporary_alias(canonical),
            arrival=arrival,
            status="created",
            patient_id=resource["id"],
            message=note,
        )

    async def follow(self, number: str, patient_id: str) -> str | None:
        """The real patient the temporary Patient `patient_id` (found by `number`) is linked to, read from the server
        again; None when it is not linked. Raises `WrongPatientError` when that Patient does not carry the number."""
        resource = await self.client.get(f"Patient/{patient_id}")
        if resource.get("id") != patient_id or not _carries(resource, number):
            raise WrongPatientError("a Patient that does not carry the temporary number that was scanned or typed")
        linked = replaced_by(resource)
        self._settle(number, patient_id)
        return linked

    def _settle(self, number: str, patient_id: str) -> None:
        """The server holds the Patient a queued registration kept under its number: that stand-in goes from the
        cache, so an offline lookup of the number finds one record, not two."""
        cache = self.store.cache
        if cache is None or patient_id == number:
            return
        try:
            if cache.get(f"patient/{number}") is not None:
                cache.delete(f"patient/{number}")
        except Exception as exc:
            log.warning("could not settle a queued registration in the cache (%s)", type(exc).__name__)

    # -- linking ---------------------------------------------------------------------------------------------

    async def _server_id(self, canonical: str) -> str | LinkResult:
        """The server's id of the temporary Patient carrying the number: read from the server, else, while it
        cannot answer, as this kiosk kept it when the server created it."""
        try:
            resource = await self._resource(canonical)
        except FhirError as exc:
            if not exc.offline:
                return LinkResult(status="failed", message=_refusal(exc))
            kept = self._kept(canonical)
            if kept is None or kept.patient_id is None:
                why = "the temporary patient is not yet on the server as far as this kiosk knows"
                return LinkResult(status="failed", message=f"{exc.describe()}; {why}")
            return kept.patient_id
        except WrongPatientError as refused:
            return LinkResult(status="failed", message=refused.message)
        if resource is None or not isinstance(resource.get("id"), str):
            return LinkResult(status="failed", message="no temporary patient carries this number on the server")
        return str(resource["id"])

    async def _operation(self, number: str, kind: str, operation: str, parameters: Json) -> Json | LinkResult:
        """One link or undo as a message of the outbox, its key made now (one decision); the server's answer, or the
        result when there is none to read: queued for a later delivery, or failed."""
        canonical = temporary_number(number)
        if canonical is None:
            return LinkResult(status="failed", message="not a temporary number (TMP-1234-5678-9)")
        temporary_id = await self._server_id(canonical)
        if isinstance(temporary_id, LinkResult):
            return temporary_id
        delivery = Delivery(method="POST", path=f"Patient/{temporary_id}/{operation}", body=parameters)
        sent = await self.writer.send(kind, f"{kind}:{uuid.uuid4()}", delivery)
        if sent.fault is not None:
            if sent.kept:
                later = f"{sent.fault.describe()}; the {kind} will be sent when the server is back"
                return LinkResult(status="queued", message=later)
            if sent.fault.offline:
                return LinkResult(status="failed", message=f"{sent.fault.describe()}; nothing could keep the {kind}")
            return LinkResult(status="failed", message=_refusal(sent.fault))
        answer = sent.answer or {}
        if answer.get("id") != temporary_id or not _carries(answer, canonical):
            return LinkResult(status="failed", message="the server answered with another patient")
        return answer

    async def link(self, number: str, patient_id: str) -> LinkResult:
        """Link a temporary identity to the real patient `patient_id` (`$link-identity`)."""
        if not FHIR_ID.fullmatch(patient_id):
            return LinkResult(status="failed", message="not a FHIR patient id")
        parameters = {
            "resourceType": "Parameters",
            "parameter": [{"name": "target", "valueReference": {"reference": f"Patient/{patient_id}"}}],
        }
        answer = await self._operation(number, LINK_KIND, LINK_OPERATION, parameters)
        if isinstance(answer, LinkResult):
            return answer
        try:
            linked = replaced_by(answer)
        except WrongPatientError as refused:
            return LinkResult(status="failed", message=refused.message)
        if linked != patient_id:
            return LinkResult(status="failed", message="the server's answer does not link to the patient asked for")
        self._forget_kept(number)
        return LinkResult(status="linked", message="linked", history=await self.identity_history(number))

    async def unlink(self, number: str) -> LinkResult:
        """Undo the link of a temporary identity (`$unlink-identity`): both Patients as they were."""
        answer = await self._operation(number, UNLINK_KIND, UNLINK_OPERATION, {"resourceType": "Parameters"})
        if isinstance(answer, LinkResult):
            return answer
        try:
            still = replaced_by(answer)
        except WrongPatientError as refused:
            return LinkResult(status="failed", message=refused.message)
        if still is not None:
            return LinkResult(status="failed", message="the server's answer still links the temporary identity")
        return LinkResult(status="unlinked", message="unlinked", history=await self.identity_history(number))

    def _forget_kept(self, number: str) -> None:
        """A linked temporary identity is no longer shown offline as someone unknown: the cache's copy goes."""
        canonical = temporary_number(number)
        cache = self.store.cache
        if canonical is None or cache is None:
            return
        try:
            for hit in self.store.by_identifiers([temporary_identifier(canonical)]):
                cache.delete(f"patient/{hit.entry.patient.id}")
        except Exception as exc:
            log.warning("could not forget a linked temporary identity in the cache (%s)", type(exc).__name__)

    async def identity_history(self, number: str) -> tuple[IdentityLink, ...]:
        """The links and undos of a temporary identity as the server recorded them (empty when it cannot say)."""
        canonical = temporary_number(number)
        if canonical is None:
            return ()
        try:
            resource = await self._resource(canonical)
            if resource is None:
                return ()
            bundle = await self.client.get("Provenance", {"target": f"Patient/{resource['id']}"})
        except (FhirError, WrongPatientError) as exc:
            log.info("identity history not read (%s)", type(exc).__name__)
            return ()
        return _history(bundle, canonical)

    # -- insurance -------------------------------------------------------------------------------------------

    async def eligibility(self, card_number: str, from_card: Eligibility | None = None) -> Eligibility:
        """The insurance gateway's word on a card, else the card's own dates (`source="card"`), else nothing known
        (state `unknown`, never `valid`)."""
        card = "".join(card_number.split()).upper()
        fallback = from_card or Eligibility(card_number=card)
        request = {
            "resourceType": "CoverageEligibilityRequest",
            "status": "active",
            "purpose": ["validation", "benefits"],
            "created": dt.date.today().isoformat(),
            "insurer": {"display": "Bảo hiểm xã hội Việt Nam"},
            "contained": [
                {
                    "resourceType": "Patient",
                    "id": "holder",
                    "identifier": [{"system": BHYT_SYSTEM, "value": card}],
                },
                {
                    "resourceType": "Coverage",
                    "id": "card",
                    "status": "active",
                    "subscriberId": card,
                    "identifier": [{"system": BHYT_SYSTEM, "value": card}],
                    "beneficiary": {"reference": "#holder"},
                    "payor": [{"display": "Bảo hiểm xã hội Việt Nam"}],
                },
            ],
            "patient": {"reference": "#holder"},
            "insurance": [{"focal": True, "coverage": {"reference": "#card"}}],
        }
        try:
            answer = await self.client.post("CoverageEligibilityRequest", request, idempotent=True)
        except FhirError as exc:
            log.info("insurance gateway not reached (%s); the card's own dates are shown", exc.kind)
            return fallback
        found = _eligibility_of(answer, card)
        return found if found is not None else fallback


def _eligibility_of(answer: Mapping[str, Any], card: str) -> Eligibility | None:
    """The gateway's CoverageEligibilityResponse read into an `Eligibility`; None when it is not a complete one."""
    if answer.get("resourceType") != "CoverageEligibilityResponse" or answer.get("outcome") != "complete":
        return None
    insurance = next((i for i in answer.get("insurance") or [] if isinstance(i, Mapping)), None)
    if insurance is None or not isinstance(insurance.get("inforce"), bool):
        return None
    raw_period = insurance.get("benefitPeriod")
    period: Mapping[str, Any] = raw_period if isinstance(raw_period, Mapping) else {}
    level = None
    for ext in [*(insurance.get("extension") or []), *(answer.get("extension") or [])]:
        if isinstance(ext, Mapping) and ext.get("url") == BENEFIT_LEVEL and isinstance(ext.get("valueInteger"), int):
            level = ext["valueInteger"]
    try:
        return Eligibility(
            card_number=card,
            valid_from=parse_date(period.get("start")),
            valid_to=parse_date(period.get("end")),
            benefit_level=level,
            source="gateway",
            in_force=insurance["inforce"],
        )
    except ValidationError:
        return None
