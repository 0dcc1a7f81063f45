"""Who may see what: the one table of role x resource x operation, and the one gate every FHIR route passes through.

`POLICY` is written once, here. Every FHIR route declares its resource and operation with
`Depends(permitted(resource, operation))`; the gate takes the caller from the bearer token (401 without a valid
one), refuses what the caller's role may not do (403, deny by default: an operation missing from the role's row is
refused), refuses what the token's scopes do not cover, refuses search parameters the route does not declare (400;
`_include` and `_revinclude` are not offered, so nothing is ever pulled in beside what was asked), and hands the
route a `Caller` carrying the role's limits. The routes apply those limits (the search minimum, the day window,
redaction, the facility, consent and break-glass) through the `Caller`, which writes the server's AuditEvent for
every answer about a patient and every refusal (`sandbox.server.audit`), stamped from the token.

Roles, as the hospital uses them:
- lobby: identity only, for an exact identifier or demographics that single one person out (see `SINGLE_OUT_RULE`),
  at most `LOBBY_MAX_RESULTS` people and no paging; appointments as time, place and department; check-in; a walk-in
  without a chief complaint; the departments; its own audit trail. Never a list of people (nor of walk-ins),
  clinical text, a summary, documents, referrals, consent or the audit log.
- reception: identity; today's appointments, today's walk-ins at its facility and referrals addressed to it, with
  diagnoses only for patients who consented; check-in and walk-ins. Never summaries, documents, break-glass or the
  audit log.
- er: everything consent allows; break-glass with a reason of real content (`break_glass_reason`). No walk-ins: the
  emergency room registers its arrivals its own way, not through the outpatient queue: a person it cannot identify
  under a temporary identity, linked to the real patient later (`sandbox.server.routes_identity`). Never the audit
  log.
- every role but admin: the insurance gateway's answer for a card (the lobby only for the card number itself).
- er and admin: a Linkage saying two Patients are one person, as a staff member decided reviewing possible
  duplicates (`sandbox.server.routes_linkage`); no other role.
- admin: the audit log and counts; never a patient's identity or clinical data.

Conditions, observations, encounters, medications and allergies are served only inside the signed documents, so
the documents' consent rule covers them; the server offers no route of their own, except the walk-in Encounters a
desk records today (`sandbox.server.routes_visits`), whose chief complaint follows the referrals' consent rule.

`python -m sandbox.server.policy > sandbox/POLICY.md` writes the table with the answer each role gets on each route
(checked in; a test compares it with this module and another sends every row to a running server).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from urllib.parse import unquote

from fastapi import Request

from lookup.domain.model import FHIR_ID, Demographics
from lookup.fhir.appointments import REDACTED, time_place_department
from lookup.service.audit import BREAK_GLASS, PURPOSE_HEADER, REASON_HEADER, TREATMENT
from sandbox.server.audit import Happening, Interaction, Outcome, record
from sandbox.server.auth import DEMO_CLIENTS, DEMO_STAFF, Grant, Role
from sandbox.server.fhir import local_id
from sandbox.server.http import FhirProblem, state_of
from sandbox.server.state import SandboxState
from sandbox.server.storage import StoredPatient

Json = dict[str, Any]


class Resource(StrEnum):
    """The FHIR resource types this server serves."""

    PATIENT = "Patient"
    BUNDLE = "Bundle"
    CONSENT = "Consent"
    APPOINTMENT = "Appointment"
    SERVICE_REQUEST = "ServiceRequest"
    AUDIT_EVENT = "AuditEvent"
    ENCOUNTER = "Encounter"
    HEALTHCARE_SERVICE = "HealthcareService"
    PROVENANCE = "Provenance"
    COVERAGE_ELIGIBILITY_REQUEST = "CoverageEligibilityRequest"
    LINKAGE = "Linkage"


class Operation(StrEnum):
    """What a route does with its resource. A search with `_summary=count` is the operation `count`."""

    SEARCH = "search"
    COUNT = "count"
    READ = "read"
    UPDATE = "update"
    CREATE = "create"
    MATCH = "$match"
    SUMMARY = "$summary"
    LINK = "$link-identity"
    UNLINK = "$unlink-identity"


_INTERACTIONS: Final[dict[Operation, Interaction]] = {
    Operation.SEARCH: "search-type",
    Operation.COUNT: "search-type",
    Operation.READ: "read",
    Operation.UPDATE: "update",
    Operation.CREATE: "create",
    Operation.MATCH: "operation",
    Operation.SUMMARY: "operation",
    Operation.LINK: "operation",
    Operation.UNLINK: "operation",
}
_WRITES: Final = frozenset({Operation.UPDATE, Operation.CREATE, Operation.LINK, Operation.UNLINK})

LOBBY_MAX_RESULTS: Final = 3
"""The most people a lobby search or `$match` answers with."""
REASON_MIN_CHARACTERS: Final = 8
"""Letters or digits a break-glass reason must carry."""
REASON_MIN_DISTINCT: Final = 3
"""Different letters or digits among them, so `aaaaaaaa` or `11111111` is no reason."""
REASON_MAX_CHARACTERS: Final = 500
CLIENT_AUDIT_MAX_BYTES: Final = 16 * 1024
"""The largest AuditEvent a kiosk may store as its own trail."""
SINGLE_OUT_RULE: Final = (
    "a lobby search must name an exact identifier (`identifier=SYSTEM|VALUE`), or a full birth date "
    "(`birthdate=YYYY-MM-DD`) with the family and given names or with a phone number"
)


class Limit(StrEnum):
    """A condition under which a role may use a route; the routes enforce each through the `Caller`."""

    SINGLE_OUT = "single-out"
    TOTAL_ONLY = "total-only"
    TODAY = "today"
    NO_CLINICAL_TEXT = "no-clinical-text"
    DIAGNOSIS_WITH_CONSENT = "diagnosis-with-consent"
    OWN_FACILITY = "own-facility"
    CONSENT = "consent"
    BREAK_GLASS = "break-glass"
    OWN_TRAIL = "own-trail"
    WALK_IN = "walk-in"
    TEMPORARY = "temporary-identity"
    EXACT_CARD = "exact-card"
    ONE_PERSON = "one-person"
    AUDIT_SEARCH = "audit-search"


LIMIT_TEXT: Final[dict[Limit, str]] = {
    Limit.SINGLE_OUT: (
        f"{SINGLE_OUT_RULE} (names compared whole, not as prefixes; for `$match` the same fields of the Patient); "
        f"at most {LOBBY_MAX_RESULTS} people (`_count` and `count` capped), no paging (`_offset` refused, 403); "
        "each Patient shows name, sex, birth date, identifiers and province only. Too little to single someone "
        "out is 400"
    ),
    Limit.TOTAL_ONLY: "the size of the register only: `_summary=count` with no other search parameter (else 403)",
    Limit.TODAY: (
        "appointments from yesterday to tomorrow only (today, a day either side for time zones); without `date` "
        "that window is implied, and a date outside it is 403"
    ),
    Limit.NO_CLINICAL_TEXT: (
        "time, place and department only: description, reason, comment, instructions, service type and free text "
        "removed (the department by its coded display, a place by its Location or Organization display, the queue "
        "number kept), the resource tagged `REDACTED`"
    ),
    Limit.DIAGNOSIS_WITH_CONSENT: (
        "diagnoses and other clinical text only for patients who consented; for others the resource is redacted as "
        "above (a referral's `code` becomes a plain 'Chuyển tuyến')"
    ),
    Limit.OWN_FACILITY: (
        "referrals addressed to the client's own facility only: without `performer` the search is narrowed to it, "
        "another facility is 403"
    ),
    Limit.CONSENT: "403 `consent-required` for a patient who has not consented, unless the glass is broken",
    Limit.BREAK_GLASS: (
        f"`{PURPOSE_HEADER}: BTG` with an `{REASON_HEADER}` (percent-encoded UTF-8) of at least "
        f"{REASON_MIN_CHARACTERS} letters or digits ({REASON_MIN_DISTINCT} different) and at most "
        f"{REASON_MAX_CHARACTERS} characters; spaces, punctuation, symbols and invisible characters do not count. "
        "Anything else is 400 naming what is wrong"
    ),
    Limit.OWN_TRAIL: (
        f"the kiosk's own trail: at most {CLIENT_AUDIT_MAX_BYTES // 1024} KiB (else 413), its agents replaced by the "
        "token's client and staff member, write-once: the same event again is 200 (nothing echoed), a different "
        "one under the same id 409"
    ),
    Limit.WALK_IN: (
        "a walk-in arrives: `PUT Encounter/{id}` of an Encounter with status `arrived`, the patient as `subject` and "
        "a department of `HealthcareService` as `serviceType`, at reception optionally a chief complaint (one coding "
        "of `urn:kiosk:chief-complaint`); answered 201 with the next queue number of that department today "
        "(`identifier` of `urn:kiosk:queue-number`, its period ending with the day) and a room (`location`). The "
        "same id again is 200 with the same visit (a retry creates nothing), for another patient 409"
    ),
    Limit.TEMPORARY: (
        "temporary identities only (`sandbox.server.routes_identity`): a created Patient carries exactly one "
        "identifier of `http://fhir.hl7.org.vn/core/sid/temporary` (`TMP` and nine digits, the last a Luhn check "
        "digit), its alias as its only name and the unidentified-arrival extension, else 400; the same number "
        "again is 200 with the Patient already made, never a second one. `$link-identity` links a temporary Patient "
        "to a real one (404 unknown target, 409 a temporary target or a temporary Patient already linked to another, "
        "400 not a temporary Patient; the same link again is 200 with the Patient as linked, changing nothing) and "
        "moves the walk-ins recorded under it; `$unlink-identity` undoes exactly that (409 when not linked); each "
        "writes a Provenance naming the staff member and the request's `Idempotency-Key`, listed by "
        "`Provenance?target=`, and a request with a key already recorded there is 200 with the Patient as it is, "
        "changing nothing"
    ),
    Limit.AUDIT_SEARCH: (
        "the audit log by `patient`, by `date` (repeatable: `ge`, `gt`, `le`, `lt` or `eq` before an instant with its "
        "zone, compared with each event's `recorded` instant to the millisecond, or before a day, the UTC day) and by "
        "the tokens `_tag` (the origin, `server` or `client-trail`), `type`, `subtype` and `agent` (a client's or a "
        "staff member's identifier), each `system|code` or a bare code, alternatives comma-separated; "
        "`_summary=count` answers with the total alone. Reading the log writes no AuditEvent, so a count read twice "
        "is the same"
    ),
    Limit.EXACT_CARD: (
        "the card number itself (a contained Coverage's `subscriberId` or `identifier`), never a patient "
        "reference (403); the answer names the card, not the person"
    ),
    Limit.ONE_PERSON: (
        "two Patients found to be one person (`sandbox.server.routes_linkage`): one item `source` and one "
        "`alternate`, each `Patient/{id}` of this server (404 unknown, 400 the same one twice, 409 a temporary "
        "identity, which `$link-identity` links), and the staff member who decided as `author` (the kiosk's "
        "`author.identifier` in `urn:kiosk:staff`, else the token's staff member; 400 without either); the two "
        "Patients again, either way round, are 200 with the Linkage already made, never a second one"
    ),
}


def _limits(*limits: Limit) -> frozenset[Limit]:
    return frozenset(limits)


_P, _B, _C, _A, _S, _E = (Resource.PATIENT, Resource.BUNDLE, Resource.CONSENT, Resource.APPOINTMENT,
                          Resource.SERVICE_REQUEST, Resource.AUDIT_EVENT)  # fmt: skip
_W, _H = Resource.ENCOUNTER, Resource.HEALTHCARE_SERVICE
_PROV, _ELIG = Resource.PROVENANCE, Resource.COVERAGE_ELIGIBILITY_REQUEST
_LINKAGE = Resource.LINKAGE
_TEMPORARY = _limits(Limit.TEMPORARY)
_SEARCH, _COUNT, _READ, _UPDATE = Operation.SEARCH, Operation.COUNT, Operation.READ, Operation.UPDATE
_SHOWN_TODAY = _limits(Limit.TODAY, Limit.DIAGNOSIS_WITH_CONSENT)
_LOBBY_APPOINTMENT = _limits(Limit.TODAY, Limit.NO_CLINICAL_TEXT)
_RECEPTION_REFERRAL = _limits(Limit.OWN_FACILITY, Limit.DIAGNOSIS_WITH_CONSENT)
_CONSENTED = _limits(Limit.DIAGNOSIS_WITH_CONSENT)
_CLINICAL = _limits(Limit.CONSENT, Limit.BREAK_GLASS)
_NONE = _limits()

POLICY: Final[Mapping[Role, Mapping[tuple[Resource, Operation], frozenset[Limit]]]] = {
    Role.LOBBY: {
        (_P, _SEARCH): _limits(Limit.SINGLE_OUT),
        (_P, _COUNT): _limits(Limit.TOTAL_ONLY),
        (_P, Operation.MATCH): _limits(Limit.SINGLE_OUT),
        (_A, _SEARCH): _LOBBY_APPOINTMENT,
        (_A, _READ): _LOBBY_APPOINTMENT,
        (_A, _UPDATE): _LOBBY_APPOINTMENT,
        (_H, _SEARCH): _NONE,
        (_W, _UPDATE): _limits(Limit.WALK_IN, Limit.NO_CLINICAL_TEXT),
        (_E, _UPDATE): _limits(Limit.OWN_TRAIL),
        (_ELIG, Operation.CREATE): _limits(Limit.EXACT_CARD),
    },
    Role.RECEPTION: {
        (_P, _SEARCH): _NONE,
        (_P, _COUNT): _NONE,
        (_P, _READ): _NONE,
        (_P, Operation.MATCH): _NONE,
        (_A, _SEARCH): _SHOWN_TODAY,
        (_A, _READ): _SHOWN_TODAY,
        (_A, _UPDATE): _SHOWN_TODAY,
        (_S, _SEARCH): _RECEPTION_REFERRAL,
        (_S, _READ): _RECEPTION_REFERRAL,
        (_H, _SEARCH): _NONE,
        (_W, _UPDATE): _limits(Limit.WALK_IN),
        (_W, _SEARCH): _limits(Limit.TODAY, Limit.OWN_FACILITY, Limit.DIAGNOSIS_WITH_CONSENT),
        (_E, _UPDATE): _limits(Limit.OWN_TRAIL),
        (_ELIG, Operation.CREATE): _NONE,
    },
    Role.ER: {
        (_P, _SEARCH): _NONE,
        (_P, _COUNT): _NONE,
        (_P, _READ): _NONE,
        (_P, Operation.MATCH): _NONE,
        (_P, Operation.SUMMARY): _CLINICAL,
        (_B, _SEARCH): _CLINICAL,
        (_C, _SEARCH): _NONE,
        (_A, _SEARCH): _CONSENTED,
        (_A, _READ): _CONSENTED,
        (_A, _UPDATE): _CONSENTED,
        (_S, _SEARCH): _CONSENTED,
        (_S, _READ): _CONSENTED,
        (_E, _UPDATE): _limits(Limit.OWN_TRAIL),
        (_P, Operation.CREATE): _TEMPORARY,
        (_P, Operation.LINK): _TEMPORARY,
        (_P, Operation.UNLINK): _TEMPORARY,
        (_PROV, _SEARCH): _TEMPORARY,
        (_ELIG, Operation.CREATE): _NONE,
        (_LINKAGE, Operation.CREATE): _limits(Limit.ONE_PERSON),
    },
    Role.ADMIN: {
        (_P, _COUNT): _limits(Limit.TOTAL_ONLY),
        (_LINKAGE, Operation.CREATE): _limits(Limit.ONE_PERSON),
        (_E, _READ): _NONE,
        (_E, _SEARCH): _limits(Limit.AUDIT_SEARCH),
        (_E, _COUNT): _limits(Limit.AUDIT_SEARCH),
    },
}
"""Role -> (resource, operation) -> the limits it is allowed under. What is not here is refused (403)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One FHIR route as the policy table shows it, with an example request (placeholders in braces)."""

    resource: Resource
    operation: Operation
    request: str
    success: int = 200


ROUTES: Final[tuple[Route, ...]] = (
    Route(_P, _SEARCH, "GET Patient?identifier={identifier}"),
    Route(_P, _COUNT, "GET Patient?_summary=count"),
    Route(_P, _READ, "GET Patient/{patient}"),
    Route(_P, Operation.MATCH, "POST Patient/$match"),
    Route(_P, Operation.SUMMARY, "GET Patient/{patient}/$summary"),
    Route(_B, _SEARCH, "GET Bundle?type=document&composition.subject=Patient/{patient}"),
    Route(_C, _SEARCH, "GET Consent?patient=Patient/{patient}"),
    Route(_A, _SEARCH, "GET Appointment?patient=Patient/{patient}&date={today}"),
    Route(_A, _READ, "GET Appointment/{appointment}"),
    Route(_A, _UPDATE, "PUT Appointment/{appointment}"),
    Route(_S, _SEARCH, "GET ServiceRequest?performer=Organization/{facility}&status=active"),
    Route(_S, _READ, "GET ServiceRequest/{referral}"),
    Route(_H, _SEARCH, "GET HealthcareService"),
    Route(_W, _UPDATE, "PUT Encounter/walkin-{new_event}", success=201),
    Route(_W, _SEARCH, "GET Encounter?date={today}"),
    Route(_E, _UPDATE, "PUT AuditEvent/{new_event}", success=201),
    Route(_E, _READ, "GET AuditEvent/{event}"),
    Route(_E, _SEARCH, "GET AuditEvent?patient=Patient/{patient}"),
    Route(_E, _COUNT, "GET AuditEvent?date=ge{today}&_tag=client-trail&_summary=count"),
    Route(_P, Operation.CREATE, "POST Patient", success=201),
    Route(_P, Operation.LINK, "POST Patient/{temporary}/$link-identity"),
    Route(_P, Operation.UNLINK, "POST Patient/{temporary}/$unlink-identity"),
    Route(_PROV, _SEARCH, "GET Provenance?target=Patient/{temporary}"),
    Route(_ELIG, Operation.CREATE, "POST CoverageEligibilityRequest"),
    Route(_LINKAGE, Operation.CREATE, "POST Linkage", success=201),
)
"""Every FHIR route under the policy (the CapabilityStatement and the token endpoint need no token)."""


def allowed(role: Role, resource: Resource, operation: Operation) -> frozenset[Limit] | None:
    """The limits `role` may use the route under, or None when it is refused (deny by default)."""
    return POLICY.get(role, {}).get((resource, operation))


def scope_for(resource: Resource, operation: Operation) -> str:
    """The SMART system scope a route needs (`$summary` answers with the documents, so it needs theirs)."""
    if operation is Operation.SUMMARY:
        return f"system/{Resource.BUNDLE.value}.read"
    return f"system/{resource.value}.{'write' if operation in _WRITES else 'read'}"


def role_scopes() -> dict[Role, frozenset[str]]:
    """The scopes each role is granted: those its row of the policy needs."""
    return {role: frozenset(scope_for(r, o) for r, o in POLICY.get(role, {})) for role in Role}


def expected_status(role: Role, route: Route) -> int:
    """The answer `role` gets to `route`'s example request about a consenting patient it may see."""
    return route.success if allowed(role, route.resource, route.operation) is not None else 403


# -- rules the routes apply ------------------------------------------------------------------------------------

_FULL_DATE: Final = re.compile(r"^(eq)?\d{4}-\d{2}-\d{2}$")


def lobby_search_problem(
    *, identifier: bool, family: str | None, given: str | None, birthdates: Iterable[str], phone: str | None
) -> str | None:
    """Why a lobby search does not single one person out (`SINGLE_OUT_RULE`), or None when it does."""
    if identifier:
        return None
    dates = list(birthdates)
    full_date = len(dates) == 1 and _FULL_DATE.match(dates[0]) is not None
    if full_date and ((family and family.strip() and given and given.strip()) or (phone and phone.strip())):
        return None
    return SINGLE_OUT_RULE


def lobby_match_problem(query: Demographics) -> str | None:
    """The same minimum for a `$match` Patient."""
    named = bool(query.family and query.given)
    if query.birth_date is not None and (named or bool(query.phone)):
        return None
    return SINGLE_OUT_RULE.replace("a lobby search", "a lobby $match").replace(
        "an exact identifier (`identifier=SYSTEM|VALUE`), or ", ""
    )


class ReasonRefused(ValueError):
    """A break-glass reason that says nothing, or too much; the text says which, never the reason itself."""


def break_glass_reason(raw: str | None) -> str:
    """The reason as stored (percent-decoded, NFC, invisible characters removed, spaces collapsed); raises
    `ReasonRefused` when it is missing, not UTF-8, too long, or carries too few letters and digits."""
    if raw is None or not raw.strip():
        raise ReasonRefused(f"the break-glass reason is missing ({REASON_HEADER})")
    if len(raw) > 9 * REASON_MAX_CHARACTERS:  # the longest percent-encoding of the longest reason
        raise ReasonRefused(f"the break-glass reason is longer than {REASON_MAX_CHARACTERS} characters")
    try:
        text = unicodedata.normalize("NFC", unquote(raw, errors="strict"))
    except UnicodeDecodeError:
        raise ReasonRefused("the break-glass reason is not percent-encoded UTF-8") from None
    if len(text) > REASON_MAX_CHARACTERS:
        raise ReasonRefused(f"the break-glass reason is longer than {REASON_MAX_CHARACTERS} characters")
    meaningful = [ch.casefold() for ch in text if unicodedata.category(ch)[0] in "LN"]
    if len(meaningful) < REASON_MIN_CHARACTERS or len(set(meaningful)) < REASON_MIN_DISTINCT:
        raise ReasonRefused(
            f"the break-glass reason must say why, in at least {REASON_MIN_CHARACTERS} letters or digits "
            f"({REASON_MIN_DISTINCT} different); spaces, punctuation, symbols and invisible characters do not count"
        )
    visible = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return " ".join(visible.split())


_IDENTITY_FIELDS: Final = frozenset(
    {"resourceType", "id", "meta", "identifier", "active", "name", "gender", "birthDate"}
)
_REFERRAL_FIELDS: Final = frozenset(
    {"resourceType", "id", "meta", "status", "intent", "category", "priority", "subject", "authoredOn",
     "occurrenceDateTime", "occurrencePeriod", "requester", "performer"}
)  # fmt: skip
REDACTED_REFERRAL_CODE: Final = "Chuyển tuyến"


def _tagged(resource: Json, fields: frozenset[str]) -> Json:
    kept = {k: v for k, v in resource.items() if k in fields}
    meta = dict(kept.get("meta") or {})
    meta["security"] = [*(meta.get("security") or []), REDACTED]
    kept["meta"] = meta
    return kept


def identity_view(patient: Json) -> Json:
    """A Patient as the lobby sees it: who they are, not where they live or how to reach them."""
    view = {k: v for k, v in patient.items() if k in _IDENTITY_FIELDS}
    states = [a["state"] for a in patient.get("address") or [] if isinstance(a, dict) and a.get("state")]
    if states:
        view["address"] = [{"state": states[0]}]
    return view


def appointment_view(appointment: Json) -> Json:
    """An Appointment as time, place and department: no description, reason, comment, instruction or service text
    (the kiosk applies the same projection, `lookup.fhir.appointments`, to whatever it is sent)."""
    return time_place_department(appointment)


def referral_view(referral: Json) -> Json:
    """A ServiceRequest without its diagnosis: no reason, note, or code text naming the condition."""
    view = _tagged(referral, _REFERRAL_FIELDS)
    view["code"] = {"text": REDACTED_REFERRAL_CODE}
    return view


# -- the gate --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Caller:
    """Who is asking (from the token) and under which limits; what the routes use to apply the policy and to write
    the server's audit."""

    grant: Grant
    resource: Resource
    operation: Operation
    state: SandboxState
    request: Request
    limits: frozenset[Limit] = field(default_factory=frozenset)

    @property
    def role(self) -> Role:
        return self.grant.role

    @property
    def facility(self) -> str | None:
        return self.grant.facility

    def under(self, limit: Limit) -> bool:
        return limit in self.limits

    @property
    def _what(self) -> str:
        if _INTERACTIONS[self.operation] == "operation":
            return f"{self.resource.value}/{self.operation.value}"
        return f"{self.resource.value} {self.operation.value}"

    def audit(
        self,
        patients: Iterable[str | None],
        detail: str,
        *,
        outcome: Outcome = "success",
        purpose: str | None = None,
        reason: str | None = None,
    ) -> None:
        """The server's AuditEvent of this request, one per patient it showed or concerned."""
        happening = Happening(_INTERACTIONS[self.operation], self._what, outcome, detail, purpose, reason)
        record(self.state.store, self.grant, happening, patients)

    def refuse(
        self,
        status: int,
        code: str,
        text: str,
        *,
        patient: str | None = None,
        purpose: str | None = None,
        reason: str | None = None,
    ) -> FhirProblem:
        """The refusal to raise, audited first (with the patient the request was about, when it says)."""
        about = patient if patient is not None else _subject_of(self.request)
        self.audit([about], f"refused ({status}): {text}", outcome="refused", purpose=purpose, reason=reason)
        return FhirProblem(status, code, text)

    # -- limits ------------------------------------------------------------------------------------------------
    def capped(self, count: int) -> int:
        """The page size a search is served with (a few people for the lobby)."""
        return min(count, LOBBY_MAX_RESULTS) if self.under(Limit.SINGLE_OUT) else count

    def check_paging(self) -> None:
        if self.under(Limit.SINGLE_OUT) and "_offset" in self.request.query_params:
            raise self.refuse(403, "forbidden", "paging through the register is not offered to the lobby role")

    def shows_clinical_text(self, consent: bool) -> bool:
        """Whether this caller sees a resource's clinical text (diagnosis, reason, notes) for this patient."""
        if self.under(Limit.NO_CLINICAL_TEXT):
            return False
        return consent or not self.under(Limit.DIAGNOSIS_WITH_CONSENT)

    def day_window(self, low: int | None, high: int | None) -> tuple[int | None, int | None]:
        """The day offsets (inclusive) a search may cover; refused when it asks beyond today's window."""
        if not self.under(Limit.TODAY):
            return low, high
        today = self.state.day_offset(_today())
        first, last = today - 1, today + 1
        if (low is None and high is None) or (low is not None and high is not None and first <= low <= high <= last):
            return (first, last) if low is None else (low, high)
        raise self.refuse(403, "forbidden", f"the {self.role.value} role sees only today's appointments")

    def check_day(self, day: int) -> None:
        """Refuse one appointment outside today's window, for roles limited to it."""
        if self.under(Limit.TODAY):
            today = self.state.day_offset(_today())
            if not today - 1 <= day <= today + 1:
                raise self.refuse(403, "forbidden", f"the {self.role.value} role sees only today's appointments")

    def release_purpose(
        self, patient: StoredPatient, purpose: str | None, reason: str | None
    ) -> tuple[str, str | None]:
        """The purpose a clinical release is made (and audited) under, and the break-glass reason as stored.

        Refused: break-glass by a role without it (403), a reason of no real content (400), and, without the
        patient's consent and without break-glass, 403 `consent-required`. Each refusal is audited."""
        chosen = (purpose or TREATMENT).strip().upper()
        if chosen not in {TREATMENT, BREAK_GLASS, "TREAT"}:
            raise FhirProblem(400, "invalid", f"{PURPOSE_HEADER} must be ETREAT, TREAT or BTG")
        if chosen != BREAK_GLASS:
            if not patient.consent and self.under(Limit.CONSENT):
                raise self.refuse(
                    403, "forbidden", "consent-required: the patient has not consented to sharing", patient=patient.id
                )
            return chosen, None
        if not self.under(Limit.BREAK_GLASS):
            raise self.refuse(
                403, "forbidden", f"the {self.role.value} role may not break the glass", patient=patient.id
            )
        try:
            kept = break_glass_reason(reason)
        except ReasonRefused as exc:
            raise self.refuse(400, "invalid", str(exc), patient=patient.id, purpose=BREAK_GLASS) from None
        return chosen, kept


def _today() -> dt.date:
    return dt.date.today()


_SUBJECT_PARAMS: Final = ("patient", "subject", "composition.subject", "composition.patient")


def _subject_of(request: Request) -> str | None:
    """The patient a request names (path or query), for the audit of a refusal; None when it names none."""
    candidates = [request.path_params.get("patient_id")]
    candidates.extend(request.query_params.get(name) for name in _SUBJECT_PARAMS)
    for value in candidates:
        if isinstance(value, str) and value:
            found = local_id(value, "Patient")
            if FHIR_ID.fullmatch(found):
                return found
    return None


_PARAMETER_NAME: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,40}$")


def _declared(request: Request) -> set[str]:
    """The query parameters the matched route declares, its dependencies' included (a few fields to walk)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    names: set[str] = set()
    waiting = [dependant] if dependant is not None else []
    while waiting:
        current = waiting.pop()
        names.update(str(p.alias) for p in current.query_params)
        waiting.extend(current.dependencies)
    return names


def _parameter_problem(request: Request) -> str | None:
    unknown = sorted(set(request.query_params.keys()) - _declared(request))
    if not unknown:
        return None
    if any(name.split(":")[0] in ("_include", "_revinclude") for name in unknown):
        return "_include and _revinclude are not offered: ask for each resource by its own search"
    named = unknown[0] if _PARAMETER_NAME.match(unknown[0]) else "a parameter"
    return f"{named} is not a search parameter of this route"


def _bearer(request: Request, state: SandboxState) -> Grant:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirProblem(401, "login", "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    grant = state.authority.grant(token.strip())
    if grant is None:
        raise FhirProblem(
            401,
            "expired",
            "the bearer token is unknown or expired",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return grant


def permitted(resource: Resource, operation: Operation) -> Callable[[Request], Caller]:
    """The gate of one route (a FastAPI dependency): the `Caller`, or 401 / 403 / 400 as the policy says."""

    def gate(request: Request) -> Caller:
        state = state_of(request)
        grant = _bearer(request, state)
        chosen = operation
        if operation is Operation.SEARCH and request.query_params.get("_summary") == "count":
            chosen = Operation.COUNT
        caller = Caller(grant, resource, chosen, state, request)
        limits = allowed(grant.role, resource, chosen)
        if limits is None:
            raise caller.refuse(
                403, "forbidden", f"the {grant.role.value} role may not {chosen.value} {resource.value}"
            )
        needed = scope_for(resource, chosen)
        if needed not in grant.scopes:
            raise caller.refuse(403, "forbidden", f"this token's scopes do not include {needed}")
        problem = _parameter_problem(request)
        if problem is not None:
            raise caller.refuse(400, "not-supported", problem)
        if Limit.TOTAL_ONLY in limits and set(request.query_params.keys()) - {"_summary", "_count"}:
            raise caller.refuse(403, "forbidden", f"the {grant.role.value} role may count the register, not search it")
        caller.limits = limits
        return caller

    return gate


# -- the table in the docs -------------------------------------------------------------------------------------


def policy_markdown() -> str:
    """`sandbox/POLICY.md`: the table of role x route x answer, the limits, and the demo accounts."""
    roles = list(Role)
    lines = [
        "# Who may see what: the sandbox server's policy",
        "",
        "Generated from `sandbox/server/policy.py` by `python -m sandbox.server.policy > sandbox/POLICY.md`; do "
        "not edit by hand (a test compares the two, and another sends every row to a running server).",
        "",
        "Each cell is the answer a client of that role gets to the example request about a patient who consented "
        "to sharing, followed by the limits it is served under. 403 is a refusal by role (deny by default: what "
        "the table does not allow is refused). Every refusal, every break-glass and every answer that shows "
        "something about a patient leaves an AuditEvent written by the server, naming the client, its role and "
        "the staff member from the token. Any search parameter a route does not declare is 400, `_include` and "
        "`_revinclude` among them. Conditions, observations, encounters, medications and allergies are not served "
        "on their own: they exist only inside the signed documents (`$summary`, `Bundle`), so the documents' "
        "consent rule covers them; the one exception is today's walk-ins (`Encounter`), whose chief complaint is "
        "shown only with consent.",
        "",
        "| resource | operation | example request | " + " | ".join(r.value for r in roles) + " |",
        "|---|---|---|" + "---|" * len(roles),
    ]
    for route in ROUTES:
        cells = []
        for role in roles:
            limits = allowed(role, route.resource, route.operation)
            status = expected_status(role, route)
            names = ", ".join(sorted(f"`{limit.value}`" for limit in limits or ()))
            cells.append(f"{status} {names}".strip())
        request = route.request.replace("|", "\\|")
        lines.append(f"| {route.resource.value} | {route.operation.value} | `{request}` | " + " | ".join(cells) + " |")
    lines += ["", "## Limits", ""]
    lines += [f"- `{limit.value}`: {LIMIT_TEXT[limit]}." for limit in Limit]
    lines += [
        "",
        "## Scopes",
        "",
        "A token carries the SMART system scopes its role's row needs (fewer when the client asks for fewer; "
        "`$summary` answers with documents, so it needs `system/Bundle.read`):",
        "",
    ]
    for role, scopes in role_scopes().items():
        lines.append(f"- {role.value}: " + " ".join(f"`{s}`" for s in sorted(scopes)))
    lines += [
        "",
        "## Demo accounts (`--demo-clients`; demos and tests only)",
        "",
        "Clients (the secret is the client id): "
        + ", ".join(
            f"`{name}` ({role.value}{f', facility {facility}' if facility else ''})"
            for name, (role, facility) in DEMO_CLIENTS.items()
        )
        + ".",
        "",
        "Staff (`staff_id` and `staff_pin` beside the client credentials at `auth/token`; PINs in "
        "`sandbox/server/auth.py`): "
        + ", ".join(f"`{s.staff_id}` ({', '.join(sorted(r.value for r in s.roles))})" for s in DEMO_STAFF)
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(policy_markdown())
