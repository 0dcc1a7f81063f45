"""The lookup service: from an identity to a verified, consented summary, online or from the offline cache.

Every public method answers; none raises for a network or data fault. Faults of the server (down, hanging, 5xx,
429, a cut or malformed answer) make the same call answer from the cache, marked `source=cache` with its age, or
end as `offline` with a sentence saying which fault it was. Missing consent is an outcome (`consent-required`, with
the patient), and break-glass is a separate, explicit call. Each lookup leaves an AuditEvent in the outbox.
An answer holding anything about another person than the one asked for is refused whole (`wrong-patient`: neither
shown nor cached, but audited), and a document is `valid` only when signed by the facility it names
(`lookup.service.binding`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import httpx

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierSystems
from lookup.domain.model import (
    FHIR_ID,
    Appointment,
    Candidate,
    Demographics,
    Eligibility,
    Identifier,
    LookupOutcome,
    LookupStatus,
    MatchGrade,
    PatientRecord,
    ScanKind,
    ScanResult,
    SignatureStatus,
)
from lookup.domain.staff import SignInResult, StaffMember
from lookup.domain.temporary import TEMPORARY_SYSTEM, IdentityLink, LinkResult, TemporaryPatient, UnknownArrival
from lookup.domain.visits import CheckInResult, Department, WalkInResult
from lookup.fhir.documents import summarize
from lookup.fhir.patient import patient_record
from lookup.health_links import retrieval as shl
from lookup.health_links.link import ShlError, parse_link
from lookup.service.activity import CANDIDATES, HEALTH_LINK, RECORD, Shown, asking, identifier_type
from lookup.service.assembly import shown_records
from lookup.service.audit import BREAK_GLASS, PURPOSE_HEADER, REASON_HEADER, TREATMENT, Action, Result
from lookup.service.audit_journal import AuditJournal
from lookup.service.binding import (
    LINK,
    Subject,
    WrongPatientError,
    bind_answer,
    bind_documents,
    bind_identified,
    bind_record,
    bind_records,
    check_document,
)
from lookup.service.cache_protocol import ActivityLog, Outbox, RecordCache, ReviewQueue
from lookup.service.duplicate_finder import DuplicateFinder
from lookup.service.fetch import Fetcher, candidates_from_match
from lookup.service.from_cache import answer_from_cache
from lookup.service.identity import identity_differences
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.outbox_writer import OutboxWriter
from lookup.service.ranking import query_keys, rank_records, record_keys, worth_showing
from lookup.service.reception import Reception
from lookup.service.results import PrefetchResult, Progress, Reporter, ServiceStatus
from lookup.service.staff import StaffDesk, StaffRecords
from lookup.service.unknown import UnknownPatients
from lookup.transport.client import FhirClient
from lookup.transport.config import ServerConfig
from lookup.transport.faults import REFUSED_KINDS, FaultKind, FhirError
from lookup.trust.trust_list import TrustList

__all__ = ["LookupService", "Progress", "ServerConfig"]

log = logging.getLogger(__name__)

SHL_STATUS: dict[str, LookupStatus] = {
    "unreachable": LookupStatus.OFFLINE,
    "insecure": LookupStatus.REFUSED,
    "redirected": LookupStatus.REFUSED,
    "too-large": LookupStatus.REFUSED,
}
"""The outcome of a link that could not be followed, by the kind of its error; any other kind is `not-found`."""


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
        audit_journal: Path | None = None,
        activity: ActivityLog | None = None,
        kiosk_name: str | None = None,
        review: ReviewQueue | None = None,
    ) -> None:
        """`audit_journal`: the folder where audit events the outbox cannot take wait for this server
        (`lookup.service.audit_journal`); without it such an event is sent once, best effort. `activity`: the admin
        console's log, given a row for every audit event, naming the kiosk `kiosk_name` (the host name by
        default). `review`: the review queue of possible duplicates, which each patient the cache stores is checked
        for (`duplicates`)."""
        self.config = config
        self.trust = trust
        self.systems = systems
        self.client = FhirClient(config, transport=transport)
        self.fetch = Fetcher(self.client)
        self.store = OfflineStore(
            cache, clinical=config.mode != "lobby", record_keys=record_keys, query_keys=query_keys
        )
        self.desk = StaffDesk(self.client, StaffRecords(cache, config.client_id, config.mode))
        journal = AuditJournal(audit_journal, config.base_url) if audit_journal is not None else None
        self.writer = OutboxWriter(
            self.client, outbox, lambda: self.desk.current, journal, kiosk_name=kiosk_name, activity=activity
        )
        self.reception = Reception(self.client, self.fetch, self.store, self.writer, lobby=config.mode == "lobby")
        self.unknown = UnknownPatients(self.client, self.store, self.writer, mode=config.mode)
        self.duplicates = DuplicateFinder(cache, review) if cache is not None and review is not None else None
        """Checks each patient stored for possible duplicates (None without a cache and a review queue)."""
        if self.duplicates is not None:
            self.store.watch = self.duplicates.check

    # -- public API ---------------------------------------------------------------------------------------------

    async def by_scan(self, scan: ScanResult, *, progress: Progress | None = None) -> LookupOutcome:
        """A scanned card: its identifiers first (former ones when those find nobody), else its demographics.

        The record an identifier finds opens only when the card's name, birth date and sex fit it; otherwise the
        outcome is `identity-mismatch` and nothing clinical is asked for (`open_patient(..., confirmed_identity=True)`
        opens it once a person has confirmed). An identifier that finds nobody ends `not-found`, with the card's
        demographics as `fallback` for a person to search by: a search is offered, never substituted."""
        if scan.kind is ScanKind.SHL:
            return await self.by_link(scan.text, progress=progress)
        rep = Reporter(progress)
        card = None if scan.demographics.is_empty() else scan.demographics
        if scan.identifiers:
            outcome = await self._guard(
                rep, lambda: self._identify(scan.identifiers, rep, card), scan.identifiers, None
            )
            if outcome.status is LookupStatus.NOT_FOUND and scan.former_identifiers:
                outcome = await self._guard(
                    rep, lambda: self._identify(scan.former_identifiers, rep, card), scan.former_identifiers, None
                )
            outcome = _checked_against_card(card, outcome)
            if outcome.status is LookupStatus.NOT_FOUND and card is not None and outcome.fault is None:
                message = "no patient carries this identifier; the name and birth date on the card may be searched"
                return outcome.model_copy(update={"fallback": card, "message": message})
            return outcome
        if card is not None:
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

    async def open_patient(
        self, patient_id: str, *, confirmed_identity: bool = False, progress: Progress | None = None
    ) -> LookupOutcome:
        """The summary of a candidate the clerk chose; `confirmed_identity`: of the record of an `identity-mismatch`
        that a staff member confirmed is the person in front of them, which the audit records before it opens."""
        rep = Reporter(progress)
        if not FHIR_ID.fullmatch(patient_id):
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="not a FHIR patient id")
        if confirmed_identity:
            with asking(RECORD):
                self.writer.audit("open", "identity-confirmed", patient_id)
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
        with asking(HEALTH_LINK):
            return await self._follow_link(text, passcode, progress)

    async def _follow_link(self, text: str, passcode: str | None, progress: Progress | None) -> LookupOutcome:
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
            status = SHL_STATUS.get(exc.kind, LookupStatus.NOT_FOUND)
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
        try:
            bind_documents(documents, Subject(patient.id, source=LINK).knowing(patient))
        except WrongPatientError as refused:
            # The link's patient ids name nobody on the server: the refusal is audited without one.
            return self._refused(rep, WrongPatientError(refused.what, source=LINK), "shl")
        rep.start("verify")
        checks = [check_document(d, self.trust) for d in documents]
        rep.done("verify", _verify_detail(checks))
        summary = summarize(patient, list(zip(documents, checks, strict=True)))
        outcome = LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary)
        self.writer.audit("shl", "success", patient.id, shown=Shown.of(outcome))
        return outcome

    async def sign_in(self, staff_id: str, pin: str) -> SignInResult:
        """Sign a staff member in: checked by the server, or offline against the PIN this kiosk last saw accepted.
        From then on the server's tokens and the kiosk's own audit events name them."""
        return await self.desk.sign_in(staff_id, pin)

    async def sign_out(self) -> None:
        await self.desk.sign_out()

    @property
    def staff(self) -> StaffMember | None:
        """The staff member signed in, or None."""
        return self.desk.current

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        """Today's appointments of one patient; raises `WrongPatientError` (none shown) when the server's answer
        holds another person's."""
        return await self.reception.appointments_today(patient_id)

    async def check_in(self, appointment_id: str) -> CheckInResult:
        return await self.reception.check_in(appointment_id)

    async def departments(self) -> list[Department]:
        """The departments a walk-in may be sent to (empty when the server cannot say)."""
        return await self.reception.departments()

    async def walk_in(
        self, patient_id: str, department: str, complaint: str | None = None, *, key: str | None = None
    ) -> WalkInResult:
        """Check in a patient without an appointment today (`Reception.walk_in`)."""
        return await self.reception.walk_in(patient_id, department, complaint, key=key)

    async def register_unknown(self, arrival: UnknownArrival) -> TemporaryPatient:
        """Register a person the ER cannot identify under a temporary number (`lookup.service.unknown`)."""
        return await self.unknown.register_unknown(arrival)

    async def temporary_patient(self, number: str) -> TemporaryPatient | None:
        return await self.unknown.temporary_patient(number)

    async def link(self, number: str, patient_id: str) -> LinkResult:
        """Link a temporary identity to the real patient `patient_id`."""
        return await self.unknown.link(number, patient_id)

    async def unlink(self, number: str) -> LinkResult:
        """Undo a temporary identity's link."""
        return await self.unknown.unlink(number)

    async def identity_history(self, number: str) -> tuple[IdentityLink, ...]:
        return await self.unknown.identity_history(number)

    async def eligibility(self, card_number: str, from_card: Eligibility | None = None) -> Eligibility:
        """A health-insurance card's validity: the gateway's answer, else the card's own dates."""
        return await self.unknown.eligibility(card_number, from_card)

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
            last_fault=error.kind.value if error else None,
            breaker=self.client.breaker.state.value,
            outbox_queued=self.writer.queued,
            outbox_delivered=self.writer.delivered,
        )

    async def probe(self) -> ServiceStatus:
        """Ask the server whether it answers (its public CapabilityStatement: nothing about anyone), then say the
        status, so a kiosk can show it is offline before anyone is looked up."""
        try:
            await self.client.get("metadata", authenticated=False, timeout_s=self.client.config.timeout_for("connect"))
        except FhirError as exc:
            log.info("the server did not answer a probe (%s)", exc.kind)
        return await self.status()

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
        """Run a network flow; a server fault turns into the cache's answer, or into `offline` with its cause. The
        flow's audit events say in the activity log which kind of identifier it began from."""
        with asking(identifier_type(self.systems, identifiers, query, patient_id)):
            return await self._run(rep, flow, identifiers, query, patient_id, reason)

    async def _run(
        self,
        rep: Reporter,
        flow: Callable[[], Awaitable[LookupOutcome]],
        identifiers: Sequence[Identifier],
        query: Demographics | None,
        patient_id: str | None,
        reason: str | None,
    ) -> LookupOutcome:
        try:
            return await flow()
        except WrongPatientError as refused:
            return self._refused(rep, refused, _action(query, patient_id, reason), reason)
        except FhirError as exc:
            if exc.kind in REFUSED_KINDS:
                # The server tried to have credentials sent elsewhere: said as such, never covered by the cache.
                rep.interrupted(exc.kind.value)
                log.warning("lookup refused: %s", exc.kind)
                return LookupOutcome(status=LookupStatus.REFUSED, message=exc.describe(), fault=exc.kind.value)
            if not exc.offline and exc.kind not in (FaultKind.UNAUTHORIZED, FaultKind.FORBIDDEN):
                log.info("lookup ended by the server's answer (%s)", exc.kind)
                return LookupOutcome(status=LookupStatus.NOT_FOUND, message=exc.describe(), fault=exc.kind.value)
            fault = exc
        except Exception as exc:
            # A fault of the data (a malformed resource the mappers could not take) must not reach the clerk as a
            # crash: it is logged with its type and handled like an unusable answer.
            log.warning("lookup failed on unexpected data (%s)", type(exc).__name__, exc_info=True)
            fault = FhirError(FaultKind.INVALID_JSON)
        rep.interrupted(fault.kind.value)
        return self._from_cache(rep, fault, identifiers, query, patient_id, reason)

    async def _identify(
        self, identifiers: Sequence[Identifier], rep: Reporter, card: Demographics | None = None
    ) -> LookupOutcome:
        rep.start("connect")
        await self.client.features()
        rep.done("connect")
        rep.start("identify", f"{len(identifiers)} identifiers")
        patients = await self.fetch.patients_by_identifiers(identifiers)
        bind_identified(patients, identifiers)
        rep.done("identify", f"{len(patients)} found")
        if not patients:
            self.writer.audit("lookup", "not-found", None)
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no patient carries this identifier")
        if len(patients) > 1:
            # Two records share a card's numbers: a person must choose, never the kiosk.
            candidates = [Candidate(patient=p, score=0.5, grade=MatchGrade.POSSIBLE) for p in patients]
            self.writer.audit("lookup", "success", None, shown=CANDIDATES)
            return LookupOutcome(status=LookupStatus.CANDIDATES, candidates=tuple(candidates))
        temporary = [i.value for i in identifiers if i.system == TEMPORARY_SYSTEM]
        if temporary:
            real = await self.unknown.follow(temporary[0], patients[0].id)
            if real is not None:
                return await self._through(temporary[0], patients[0].id, real, rep)
        mismatch = _checked_against_card(card, LookupOutcome(status=LookupStatus.FOUND, patient=patients[0]))
        if mismatch.status is LookupStatus.IDENTITY_MISMATCH:
            # Before anything clinical is asked for: a person decides whether the card is this record's.
            self.writer.audit("lookup", "identity-mismatch", patients[0].id)
            return mismatch
        return await self._open(patients[0].id, patients[0], rep, "lookup", asked=identifiers)

    async def _through(self, number: str, temporary_id: str, real_id: str, rep: Reporter) -> LookupOutcome:
        """The real patient a linked temporary identity now points to, read by its own id, saying how it was
        reached. The temporary Patient was checked to carry the number asked for (`UnknownPatients.follow`)."""
        if real_id == temporary_id:
            raise WrongPatientError("a temporary identity linked to itself")
        outcome = await self._open(real_id, None, rep, "lookup")
        if outcome.patient is None:
            return outcome
        note = "reached through a temporary identity that was linked to this patient"
        message = f"{note}; {outcome.message}" if outcome.message else note
        return outcome.model_copy(update={"reached_through": number, "message": message})

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
            return outcome.model_copy(update={"candidates": tuple(worth_showing(candidates))[:10]})
        shown = tuple(worth_showing(candidates))[:10]
        self.writer.audit("search", "success" if shown else "not-found", None, shown=CANDIDATES if shown else None)
        if not shown:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="nobody matches these details well enough")
        return LookupOutcome(status=LookupStatus.CANDIDATES, candidates=shown)

    async def _open(
        self,
        patient_id: str,
        known: PatientRecord | None,
        rep: Reporter,
        action: Action,
        reason: str | None = None,
        asked: Sequence[Identifier] = (),
    ) -> LookupOutcome:
        """Open one patient; everything the server answers must be about them (`lookup.service.binding`), and
        `asked` are the identifiers the lookup began from, which the Patient returned must carry."""
        glass = reason is not None
        subject = Subject(patient_id, tuple(asked), base=self.client.base_url).knowing(known)
        if self.config.mode != "er":
            return await self._visit(patient_id, known, action, subject)
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
                return await self._glass_refused(patient_id, known, reason, exc, subject)
            if exc.kind is not FaultKind.CONSENT_REQUIRED:
                raise
            rep.failed("summary", "consent-required")
            patient = await self._patient(patient_id, known, subject)
            if patient is None:
                return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
            self.store.save(CachedPatient(patient=patient, consent_required=True))
            self.writer.audit(action, "consent-required", patient.id, glass, reason)
            return LookupOutcome(status=LookupStatus.CONSENT_REQUIRED, patient=patient, message=exc.describe())
        rep.done("summary", f"{len(fetched.documents)} documents")
        # Before anything of the answer is verified, kept or shown: all of it must be about this patient.
        bind_answer(subject, fetched.patient, fetched.patients, fetched.documents, fetched.loose)
        patient = fetched.patient or known
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        rep.start("verify")
        checks = [check_document(d, self.trust) for d in fetched.documents]
        rep.done("verify", _verify_detail(checks))
        verified = list(zip(fetched.documents, checks, strict=True))
        summary = summarize(patient, verified, shown_records(verified, fetched.records), gaps=fetched.gaps)
        rep.start("cache")
        stored = self.store.save(CachedPatient(patient=patient, summary=summary, break_glass=glass))
        rep.done("cache", "stored" if stored else "not stored")
        outcome = LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary, break_glass=glass)
        self.writer.audit(action, "success", patient.id, glass, reason, shown=Shown.of(outcome))
        return outcome

    async def _visit(
        self, patient_id: str, known: PatientRecord | None, action: Action, subject: Subject
    ) -> LookupOutcome:
        """Reception and lobby: who the patient is and, for reception, the referrals addressed to this facility
        (the server leaves out diagnoses the patient has not consented to share). A summary is never asked for:
        the server refuses it to these roles. Only the identity is kept offline, and never over a richer record."""
        patient = await self._patient(patient_id, known, subject)
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        summary = None
        if self.config.mode == "reception":
            try:
                referrals = await self.fetch.referrals_of(patient.id, self.config.facility_code)
                bind_records(referrals, subject.knowing(patient), "a referral")
                summary = summarize(patient, [], referrals, shared=("referrals",))
            except FhirError as exc:
                if exc.offline:
                    raise
                # No summary rather than an empty one: the screen says the referrals could not be read, never "none".
                log.info("referrals not shown (%s)", exc.kind)
        self.store.save_identity(patient)
        self.writer.audit(action, "success", patient.id)
        return LookupOutcome(status=LookupStatus.FOUND, patient=patient, summary=summary)

    async def _glass_refused(
        self, patient_id: str, known: PatientRecord | None, reason: str | None, exc: FhirError, subject: Subject
    ) -> LookupOutcome:
        """The server refused the break-glass reason: the glass stays whole, and the clerk reads the server's words
        (a new reason may be given)."""
        patient = await self._patient(patient_id, known, subject)
        if patient is None:
            return LookupOutcome(status=LookupStatus.NOT_FOUND, message="no such patient on the server")
        self.writer.audit("break-glass", "failed", patient.id, True, reason)
        message = exc.server_text or "the server refused the break-glass reason"
        return LookupOutcome(status=LookupStatus.CONSENT_REQUIRED, patient=patient, message=message)

    async def _patient(self, patient_id: str, known: PatientRecord | None, subject: Subject) -> PatientRecord | None:
        """The patient already identified, else as the server reads them: either way bound to the subject."""
        patient = known or await self.fetch.patient(patient_id)
        return bind_record(patient, subject) if patient is not None else None

    async def _prefetch_one(self, patient_id: str) -> bool:
        """Open one referred patient into the cache; whether a summary was kept (only the ER reads summaries)."""
        try:
            outcome = await self._open(patient_id, None, Reporter(None), "open")
        except WrongPatientError as refused:
            self._refused(Reporter(None), refused, "open")
            return False
        return self.config.mode == "er" and outcome.summary is not None

    def _refused(
        self, rep: Reporter, refused: WrongPatientError, action: Action, reason: str | None = None
    ) -> LookupOutcome:
        """An answer about another person: nothing of it shown or cached; the refusal audited about the patient
        asked for (never the other one), and said in words without data."""
        rep.interrupted("wrong-patient")
        log.warning("answer refused: %s", refused.message)
        self.writer.audit(action, "wrong-patient", refused.patient_id, reason is not None, reason)
        return LookupOutcome(status=LookupStatus.WRONG_PATIENT, message=refused.message)

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
        result: Result = "wrong-patient" if outcome.status is LookupStatus.WRONG_PATIENT else "offline"
        glass = reason is not None and opened is not None
        self.writer.audit(action, result, opened, glass, reason, shown=Shown.of(outcome, offline=True))
        return outcome


def _checked_against_card(card: Demographics | None, outcome: LookupOutcome) -> LookupOutcome:
    """The outcome, or `identity-mismatch` (the record's identity only) when the patient it opens is not the card's
    person by name, birth date or sex."""
    patient = outcome.patient
    if card is None or patient is None or outcome.status not in (LookupStatus.FOUND, LookupStatus.CONSENT_REQUIRED):
        return outcome
    differs = identity_differences(card, patient.demographics)
    if not differs:
        return outcome
    return LookupOutcome(
        status=LookupStatus.IDENTITY_MISMATCH,
        source=outcome.source,
        age_seconds=outcome.age_seconds,
        patient=patient,
        card=card,
        differs=differs,
        message="the name, birth date or sex on the card differ from the record its number found",
    )


def _action(query: Demographics | None, patient_id: str | None, reason: str | None) -> Action:
    """What a guarded lookup was, for its audit event."""
    if reason is not None:
        return "break-glass"
    if query is not None:
        return "search"
    return "open" if patient_id is not None else "lookup"


def _verify_detail(checks: Sequence[object]) -> str:
    statuses = [getattr(c, "status", None) for c in checks]
    invalid = sum(1 for s in statuses if s is SignatureStatus.INVALID)
    valid = sum(1 for s in statuses if s is SignatureStatus.VALID)
    mismatch = sum(1 for s in statuses if s is SignatureStatus.SIGNER_MISMATCH)
    return (
        f"{valid} of {len(statuses)} valid"
        + (f", {invalid} invalid" if invalid else "")
        + (f", {mismatch} signed by another facility" if mismatch else "")
    )
