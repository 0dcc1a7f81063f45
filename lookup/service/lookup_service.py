"""The lookup service: from an identity to a verified, consented summary, online or from the offline cache.

Every public method answers; none raises for a network or data fault. Faults of the server (down, hanging, 5xx,
429, a cut or malformed answer) make the same call answer from the cache, marked `source=cache` with its age, or
end as `offline` with a sentence saying which fault it was. Missing consent is an outcome (`consent-required`, with
the patient), and break-glass is a separate, explicit call. Each lookup leaves an AuditEvent in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

import httpx

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierSystems
from lookup.domain.model import (
    FHIR_ID,
    Appointment,
    Candidate,
    Demographics,
    Identifier,
    LookupOutcome,
    LookupStatus,
    MatchGrade,
    PatientRecord,
    ScanKind,
    ScanResult,
    SignatureStatus,
)
from lookup.fhir.documents import summarize
from lookup.fhir.patient import patient_record
from lookup.health_links import retrieval as shl
from lookup.health_links.link import ShlError, parse_link
from lookup.service.audit import BREAK_GLASS, PURPOSE_HEADER, REASON_HEADER, TREATMENT, Action
from lookup.service.cache_protocol import Outbox, RecordCache
from lookup.service.fetch import Fetcher, candidates_from_match
from lookup.service.from_cache import answer_from_cache
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.outbox_writer import OutboxWriter
from lookup.service.ranking import query_keys, rank_records, record_keys
from lookup.service.reception import Reception
from lookup.service.results import CheckInResult, PrefetchResult, Progress, Reporter, ServiceStatus
from lookup.transport.client import FhirClient
from lookup.transport.config import ServerConfig
from lookup.transport.faults import FaultKind, FhirError
from lookup.trust.signatures import verify_document
from lookup.trust.trust_list import TrustList

__all__ = ["LookupService", "Progress", "ServerConfig"]

log = logging.getLogger(__name__)


class LookupService:
    """Patient lookup against one FHIR R4 server, with an optional offline cache and outbox."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        trust: TrustList,
        cache: RecordCache | None = None,
        outbox: Outbox | None = None,
        systems: IdentifierSystems = DEFAULT_TABLE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.trust = trust
        self.systems = systems
        self.client = FhirClient(config, transport=transport)
        self.fetch = Fetcher(self.client)
        self.store = OfflineStore(
            cache, clinical=config.mode != "lobby", record_keys=record_keys, query_keys=query_keys
        )
        self.writer = OutboxWriter(self.client, outbox)
        self.reception = Reception(self.client, self.fetch, self.store, self.writer)

    # -- public API ---------------------------------------------------------------------------------------------

    async def by_scan(self, scan: ScanResult, *, progress: Progress | None = None) -> LookupOutcome:
        """A scanned card: its identifiers first (former ones when those find nobody), then its demographics."""
        if scan.kind is ScanKind.SHL:
            return await self.by_link(scan.text, progress=progress)
        rep = Reporter(progress)
        if scan.identifiers:
            outcome = await self._guard(rep, lambda: self._identify(scan.identifiers, rep), scan.identifiers, None)
            if outcome.status is LookupStatus.NOT_FOUND and scan.former_identifiers:
                outcome = await self._guard(
                    rep, lambda: self._identify(scan.former_identifiers, rep), scan.former_identifiers, None
                )
            if outcome.status is not LookupStatus.NOT_FOUND or scan.demographics.is_empty():
                return outcome
        if not scan.demographics.is_empty():
            return await self.by_demographics(scan.demographics, progress=progress)
        return LookupOutcome(status=LookupStatus.NOT_FOUND, message="the code carries no identifier or name to look up")

    async def by_identifier(self, identifier: Identifier, *, progress: Progress | None = None) -> LookupOutcome:
        rep = Reporter(progress)
        return await self._guard(rep, lambda: self._identify((identifier,), rep), (identifier,), None)

    async def by_demographics(self, query: Demographics, *, progress: Progress | None = None) -> LookupOutcome:
        """`found` only for a single `certain` match; otherwise the ranked candidates for a person to choose."""
        rep = Reporter(progress)
        if query.is_empty():
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="nothing to search for")
        return await self._guard(rep, lambda: self._search(query, rep), (), query)

    async def open_patient(self, patient_id: str, *, progress: Progress | None = None) -> LookupOutcome:
        """The summary of a candidate the clerk chose."""
        rep = Reporter(progress)
        if not FHIR_ID.fullmatch(patient_id):
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="not a FHIR patient id")
        return await self._guard(rep, lambda: self._open(patient_id, None, rep, "open"), (), None, patient_id)

    async def break_glass(self, patient_id: str, reason: str, *, progress: Progress | None = None) -> LookupOutcome:
        """Emergency access without consent: sent with purpose BTG and the reason, audited as such."""
        rep = Reporter(progress)
        reason = " ".join(reason.split())
        if not FHIR_ID.fullmatch(patient_id):
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="not a FHIR patient id")
        if not reason:
            return LookupOutcome(status=LookupStatus.CONSENT_REQUIRED, message="break-glass needs a reason")
        return await self._guard(
            rep, lambda: self._open(patient_id, None, rep, "break-glass", reason), (), None, patient_id, reason
        )

    async def by_link(
        self, text: str, *, passcode: str | None = None, progress: Progress | None = None
    ) -> LookupOutcome:
        """A SMART Health Link: fetch, decrypt, verify; its documents become the summary."""
        rep = Reporter(progress)
        rep.start("link")
        try:
            link = parse_link(text)
            files = await shl.retrieve(
                link,
                recipient=f"kiosk {self.config.client_id or self.config.mode}",
                passcode=passcode,
                timeout_s=self.config.timeout_s,
            )
        except ShlError as exc:
            rep.failed("link", exc.kind)
            status = LookupStatus.OFFLINE if exc.kind == "unreachable" else LookupStatus.NOT_FOUND
            return LookupOutcome(status=status, message=str(exc))
        rep.done("link", f"{len(files)} files")
        documents = [f.content for f in files if f.content.get("resourceType") == "Bundle"]
        patient: PatientRecord | None = None
        for document in documents:
            for entry in document.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and patient is None:
                    patient = patient_record(resource)
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="the link holds no patient summary")
        rep.start("verify")
        checks = [verify_document(d, self.trust) for d in documents]
        rep.done("verify", _verify_detail(checks))
        summary = summarize(patient, list(zip(documents, checks, strict=True)))
        self.writer.audit("shl", "success", patient.id)
        return LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary)

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        return await self.reception.appointments_today(patient_id)

    async def check_in(self, appointment_id: str) -> CheckInResult:
        return await self.reception.check_in(appointment_id)

    async def prefetch(self, facility_code: str | None = None) -> PrefetchResult:
        """Referrals and appointments addressed to this facility, with their patients' summaries, into the cache."""
        code = facility_code or self.config.facility_code
        if code is None:
            return PrefetchResult(message="no facility code configured")
        return await self.reception.prefetch(code, self._prefetch_one)

    async def status(self) -> ServiceStatus:
        error = self.client.last_error
        return ServiceStatus(
            online=error is None and self.client.breaker.state.value == "closed",
            server=self.client.base_url,
            last_error=error.describe() if error else None,
            breaker=self.client.breaker.state.value,
            outbox_queued=self.writer.queued,
            outbox_delivered=self.writer.delivered,
        )

    async def flush_outbox(self) -> int:
        """Deliver what waits in the outbox; the number acknowledged by the server."""
        return await self.writer.deliver()

    async def drain(self) -> None:
        """Wait until the audit events being sent in the background (when there is no outbox) are gone."""
        await self.writer.drain()

    async def aclose(self) -> None:
        await self.drain()
        await self.client.aclose()

    # -- flows --------------------------------------------------------------------------------------------------

    async def _guard(
        self,
        rep: Reporter,
        flow: Callable[[], Awaitable[LookupOutcome]],
        identifiers: Sequence[Identifier],
        query: Demographics | None,
        patient_id: str | None = None,
        reason: str | None = None,
    ) -> LookupOutcome:
        """Run a network flow; a server fault turns into the cache's answer, or into `offline` with its cause."""
        try:
            return await flow()
        except FhirError as exc:
            if not exc.offline and exc.kind not in (FaultKind.UNAUTHORIZED, FaultKind.FORBIDDEN):
                log.info("lookup ended by the server's answer (%s)", exc.kind)
                return LookupOutcome(status=LookupStatus.NOT_FOUND, message=exc.describe())
            fault = exc
        except Exception as exc:
            # A fault of the data (a malformed resource the mappers could not take) must not reach the clerk as a
            # crash: it is logged with its type and handled like an unusable answer.
            log.warning("lookup failed on unexpected data (%s)", type(exc).__name__, exc_info=True)
            fault = FhirError(FaultKind.INVALID_JSON)
        rep.interrupted(fault.kind.value)
        return self._from_cache(rep, fault, identifiers, query, patient_id, reason)

    async def _identify(self, identifiers: Sequence[Identifier], rep: Reporter) -> LookupOutcome:
        rep.start("connect")
        await self.client.features()
        rep.done("connect")
        rep.start("identify", f"{len(identifiers)} identifiers")
        patients = await self.fetch.patients_by_identifiers(identifiers)
        rep.done("identify", f"{len(patients)} found")
        if not patients:
            self.writer.audit("lookup", "not-found", None)
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no patient carries this identifier")
        if len(patients) > 1:
            # Two records share a card's numbers: a person must choose, never the kiosk.
            candidates = [Candidate(patient=p, score=0.5, grade=MatchGrade.POSSIBLE) for p in patients]
            self.writer.audit("lookup", "success", None)
            return LookupOutcome(status=LookupStatus.CANDIDATES, candidates=tuple(candidates))
        return await self._open(patients[0].id, patients[0], rep, "lookup")

    async def _search(self, query: Demographics, rep: Reporter) -> LookupOutcome:
        rep.start("connect")
        await self.client.features()
        rep.done("connect")
        rep.start("match")
        matched = await self.fetch.match(query)
        if matched is not None:
            ranked = rank_records(query, [r for r, _, _ in matched], await self.fetch.population())
            candidates = candidates_from_match(matched, ranked)
            how = "$match"
        else:
            records, population = await asyncio.gather(
                self.fetch.search(query, narrow=self.config.mode == "lobby"), self.fetch.population()
            )
            candidates = rank_records(query, records, population)
            how = "search"
        rep.done("match", f"{len(candidates)} candidates ({how})")
        return await self._decide(candidates, rep)

    async def _decide(self, candidates: Sequence[Candidate], rep: Reporter) -> LookupOutcome:
        certain = [c for c in candidates if c.grade is MatchGrade.CERTAIN]
        if len(certain) == 1:
            outcome = await self._open(certain[0].patient.id, certain[0].patient, rep, "search")
            return outcome.model_copy(update={"candidates": tuple(candidates[:10])})
        shown = tuple(c for c in candidates if c.grade is not MatchGrade.CERTAINLY_NOT)[:10]
        self.writer.audit("search", "success" if shown else "not-found", None)
        if not shown:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="nobody matches these details")
        return LookupOutcome(status=LookupStatus.CANDIDATES, candidates=shown)

    async def _open(
        self, patient_id: str, known: PatientRecord | None, rep: Reporter, action: Action, reason: str | None = None
    ) -> LookupOutcome:
        glass = reason is not None
        if self.config.mode != "er":
            return await self._visit(patient_id, known, action)
        headers = {PURPOSE_HEADER: BREAK_GLASS if glass else TREATMENT}
        if reason is not None:
            # Header values are ASCII; the reason is sent percent-encoded UTF-8 so Vietnamese text survives.
            headers[REASON_HEADER] = quote(reason, safe=" ,.;:-_()/")
        rep.start("summary", "break-glass" if glass else "")
        try:
            fetched = await self.fetch.summary(patient_id, headers)
        except FhirError as exc:
            if glass and exc.kind is FaultKind.BAD_REQUEST:
                rep.failed("summary", "break-glass refused")
                return await self._glass_refused(patient_id, known, reason, exc)
            if exc.kind is not FaultKind.CONSENT_REQUIRED:
                raise
            rep.failed("summary", "consent-required")
            patient = known or await self.fetch.patient(patient_id)
            if patient is None:
                return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
            self.store.save(CachedPatient(patient=patient, consent_required=True))
            self.writer.audit(action, "consent-required", patient.id, glass, reason)
            return LookupOutcome(status=LookupStatus.CONSENT_REQUIRED, patient=patient, message=exc.describe())
        rep.done("summary", f"{len(fetched.documents)} documents")
        patient = fetched.patient or known
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        rep.start("verify")
        checks = [verify_document(d, self.trust) for d in fetched.documents]
        rep.done("verify", _verify_detail(checks))
        summary = summarize(patient, list(zip(fetched.documents, checks, strict=True)), fetched.loose)
        rep.start("cache")
        stored = self.store.save(CachedPatient(patient=patient, summary=summary, break_glass=glass))
        rep.done("cache", "stored" if stored else "not stored")
        self.writer.audit(action, "success", patient.id, glass, reason)
        return LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary, break_glass=glass)

    async def _visit(self, patient_id: str, known: PatientRecord | None, action: Action) -> LookupOutcome:
        """Reception and lobby: who the patient is and, for reception, the referrals addressed to this facility
        (the server leaves out diagnoses the patient has not consented to share). A summary is never asked for:
        the server refuses it to these roles. Only the identity is kept offline, and never over a richer record."""
        patient = known or await self.fetch.patient(patient_id)
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        summary = None
        if self.config.mode == "reception":
            try:
                referrals = await self.fetch.referrals_of(patient.id, self.config.facility_code)
                summary = summarize(patient, [], referrals)
            except FhirError as exc:
                if exc.offline:
                    raise
                # No summary rather than an empty one: the screen says the referrals could not be read, never "none".
                log.info("referrals not shown (%s)", exc.kind)
        self.store.save_identity(patient)
        self.writer.audit(action, "success", patient.id)
        return LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary)

    async def _glass_refused(
        self, patient_id: str, known: PatientRecord | None, reason: str | None, exc: FhirError
    ) -> LookupOutcome:
        """The server refused the break-glass reason: the glass stays whole, and the clerk reads the server's words
        (a new reason may be given)."""
        patient = known or await self.fetch.patient(patient_id)
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        self.writer.audit("break-glass", "failed", patient.id, True, reason)
        message = exc.server_text or "the server refused the break-glass reason"
        return LookupOutcome(status=LookupStatus.CONSENT_REQUIRED, patient=patient, message=message)

    async def _prefetch_one(self, patient_id: str) -> bool:
        """Open one referred patient into the cache; whether a summary was kept (only the ER reads summaries)."""
        outcome = await self._open(patient_id, None, Reporter(None), "open")
        return self.config.mode == "er" and outcome.summary is not None

    # -- offline ------------------------------------------------------------------------------------------------

    def _from_cache(
        self,
        rep: Reporter,
        fault: FhirError,
        identifiers: Sequence[Identifier],
        query: Demographics | None,
        patient_id: str | None,
        reason: str | None,
    ) -> LookupOutcome:
        """The cache's answer to the call the server could not take, audited as an offline access."""
        outcome = answer_from_cache(
            self.store,
            fault,
            rep,
            identifiers=identifiers,
            query=query if patient_id is None else None,
            patient_id=patient_id,
            reason=reason,
            population=self.fetch.known_population,
        )
        action: Action = "break-glass" if reason is not None else ("search" if query is not None else "lookup")
        opened = outcome.patient.id if outcome.patient is not None else None
        self.writer.audit(action, "offline", opened, reason is not None and opened is not None, reason)
        return outcome


def _verify_detail(checks: Sequence[object]) -> str:
    statuses = [getattr(c, "status", None) for c in checks]
    invalid = sum(1 for s in statuses if s is SignatureStatus.INVALID)
    valid = sum(1 for s in statuses if s is SignatureStatus.VALID)
    return f"{valid} of {len(statuses)} valid" + (f", {invalid} invalid" if invalid else "")
