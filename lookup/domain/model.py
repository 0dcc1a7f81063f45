"""The domain of patient lookup, as pydantic models shared by every package.

These are the only shapes that cross a package boundary: scanners produce a `ScanResult`, the matching engine ranks
`Candidate`s, the lookup service answers with a `LookupOutcome` carrying a `PatientSummary`, and the kiosk shows
them. Every model is frozen and forbids unknown fields, so a typo at a boundary is an error, not silent data loss.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import partial
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from lookup.domain.identifiers import DEFAULT_TABLE, value_problem
from lookup.domain.text import NAME_CHARS, inert, strip_controls

FHIR_ID_PATTERN: Final = r"^[A-Za-z0-9\-.]{1,64}$"
"""A FHIR resource id (R4 `id` datatype): the one rule for every id read, stored or served, as the string pydantic
and FastAPI path validation take."""
FHIR_ID: Final = re.compile(FHIR_ID_PATTERN)
"""The same, compiled; use `fullmatch` so a trailing newline is refused as the server's path check refuses it."""
PHONE_PATTERN: Final = r"^\+?[0-9 .-]{6,20}$"
"""A phone number as a person writes it; `lookup.domain.text.phone_digits` reads the number out of it."""
PHONE: Final = re.compile(PHONE_PATTERN)

DisplayText = Annotated[str, AfterValidator(inert)]
"""Text from a server, a card or a person, shown as it is: never escape sequences, controls or bidirectional
overrides, at most `DISPLAY_CHARS` long (`lookup.domain.text.inert`). Every free-text field of the domain is one."""
NameText = Annotated[str, AfterValidator(partial(inert, limit=NAME_CHARS))]
"""The same for a name (of a person, a facility, a unit, a code): at most `NAME_CHARS` long."""


class DomainModel(BaseModel):
    """Base of every domain model: immutable, strict about unknown fields."""

    # Validation errors end up in logs: they name the field and the rule, never the value (it may be patient data).
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class Sex(StrEnum):
    """Administrative sex as FHIR codes it."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class SignatureStatus(StrEnum):
    """Whether a document's or card's signature holds against the pinned trust list."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN_SIGNER = "unknown-signer"
    SIGNER_MISMATCH = "signer-mismatch"
    """The signature holds, with a trusted key of another facility than the one the document names as its source."""
    UNSIGNED = "unsigned"


FAILED_SIGNATURES: Final = frozenset({SignatureStatus.INVALID, SignatureStatus.SIGNER_MISMATCH})
"""Signature statuses shown in red: the document must not be relied on."""


class MatchGrade(StrEnum):
    """FHIR match-grade. Only `certain` may be accepted without a person choosing."""

    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    CERTAINLY_NOT = "certainly-not"


class ScanKind(StrEnum):
    """What a scanned code turned out to be."""

    CCCD = "cccd"
    VNEID = "vneid"
    BHYT = "bhyt"
    PERSONAL_ID = "personal-id"
    INSURANCE_NUMBER = "insurance-number"
    SHC = "shc"
    SHL = "shl"
    TEMPORARY = "temporary"
    """A temporary identity's wristband code (`lookup.domain.temporary`)."""
    UNKNOWN = "unknown"


class Identifier(DomainModel):
    """A FHIR identifier: a system URI and a value. Known systems have their value's shape checked."""

    system: Annotated[str, Field(min_length=1)]
    value: Annotated[str, Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _value_fits_system(self) -> Identifier:
        # An identifier is matched, never cleaned: one carrying control characters is refused whole.
        if strip_controls(self.system) != self.system or strip_controls(self.value) != self.value:
            raise ValueError("an identifier holds control characters")
        kind = DEFAULT_TABLE.kind(self.system)
        if kind is not None:
            problem = value_problem(kind, self.value)
            if problem is not None:
                raise ValueError(problem)
        return self

    @property
    def token(self) -> str:
        """The `SYSTEM|VALUE` form FHIR search uses."""
        return f"{self.system}|{self.value}"

    @classmethod
    def parse_token(cls, token: str) -> Identifier:
        """Read `SYSTEM|VALUE`; raises ValueError naming what is wrong."""
        system, sep, value = token.partition("|")
        if not sep or not system or not value:
            raise ValueError("an identifier must be written SYSTEM|VALUE")
        return cls(system=system, value=value)


class Demographics(DomainModel):
    """What is known of a person's identity: from a card, a form, or a record. Every field may be missing.

    A birth date may be known whole (`birth_date`) or by year alone (`birth_year`); when both are given they must
    agree. `province` is the current (post-2025, 34-unit) province name when known; `address` is free text as
    written, often with an old province name.
    """

    family: NameText | None = None
    middle: NameText | None = None
    given: NameText | None = None
    birth_date: dt.date | None = None
    birth_year: Annotated[int | None, Field(ge=1880, le=2100)] = None
    sex: Sex | None = None
    address: DisplayText | None = None
    province: NameText | None = None
    phone: Annotated[str | None, Field(pattern=PHONE_PATTERN)] = None

    @model_validator(mode="after")
    def _birth_fields_agree(self) -> Demographics:
        if self.birth_date is not None:
            if self.birth_year is None:
                object.__setattr__(self, "birth_year", self.birth_date.year)
            elif self.birth_year != self.birth_date.year:
                raise ValueError("birth_year does not agree with birth_date")
        return self

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family, self.middle, self.given) if part)

    def is_empty(self) -> bool:
        return not any(
            (self.family, self.middle, self.given, self.birth_date, self.birth_year, self.phone, self.province)
        )


class SignatureCheck(DomainModel):
    """The outcome of checking one signature, and who signed when known."""

    status: SignatureStatus
    issuer: NameText | None = None
    """Facility code and name, or a SMART Health Card issuer URL."""
    reason: DisplayText | None = None
    """Why the status is not `valid`, in plain words (never containing patient data)."""


class Eligibility(BaseModel):
    """A health-insurance card's validity and benefit level, from its QR or the insurance gateway's answer."""

    model_config = ConfigDict(frozen=True)

    card_number: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    """None: open-ended (`-` on the card)."""
    benefit_level: Annotated[int | None, Field(ge=1, le=5)] = None
    source: Literal["card", "gateway"] = "card"
    in_force: bool | None = None
    """The gateway's word; None when only the card was read."""

    def state(
        self, today: dt.date, soon_days: int = 30
    ) -> Literal["valid", "expiring", "expired", "not-yet-valid", "unknown"]:
        """What the desk is told before check-in; `unknown` when neither the gateway nor the card said anything
        about validity (never shown as valid)."""
        if self.in_force is None and self.valid_from is None and self.valid_to is None:
            return "unknown"
        if self.in_force is False or (self.valid_to is not None and self.valid_to < today):
            return "expired"
        if self.valid_from is not None and self.valid_from > today:
            return "not-yet-valid"
        if self.valid_to is not None and (self.valid_to - today).days <= soon_days:
            return "expiring"
        return "valid"


class ScanReading(DomainModel):
    """What a code says about a person: identifiers, demographic hints, a signature check and any doubts.

    The payload parsers' answer; a `ScanResult` adds which decoder read the code, from what, and its text.
    """

    kind: ScanKind
    identifiers: tuple[Identifier, ...] = ()
    former_identifiers: tuple[Identifier, ...] = ()
    """Old or cancelled numbers a card also carries: searched only when the primary ones find nothing."""
    demographics: Demographics = Demographics()
    signature: SignatureCheck = SignatureCheck(status=SignatureStatus.UNSIGNED)
    warnings: tuple[DisplayText, ...] = ()
    """Structural doubts (a CCCD century digit that disagrees with the birth year): shown to the clerk."""
    insurance: Eligibility | None = None
    """A health-insurance card's validity and benefit level as the card states them."""

    @property
    def unverified(self) -> bool:
        """A card that names someone but whose signature does not hold (tampered, expired or not yet valid, an
        issuer not trusted, or a health card with its signature stripped): it identifies nobody before a person
        has read why. Codes that are never signed (a CCCD QR) are not unverified: they prove nothing either way."""
        if not self.identifiers and not self.former_identifiers and self.demographics.is_empty():
            return False
        status = self.signature.status
        stripped = status is SignatureStatus.UNSIGNED and self.kind is ScanKind.SHC
        return stripped or status in (SignatureStatus.INVALID, SignatureStatus.UNKNOWN_SIGNER)


class ScanResult(ScanReading):
    """One decoded code and what it says about a person."""

    format: str
    """Symbology: QRCode, Code128, PDF417, DataMatrix, or `text` for typed input."""
    text: str
    decoder: str
    """Which decoder read it: zxing-cpp, pyzbar, wedge, keyboard."""

    @classmethod
    def of(cls, reading: ScanReading, *, format: str, text: str, decoder: str) -> ScanResult:
        """The result of a code whose payload said `reading`."""
        said = {name: getattr(reading, name) for name in ScanReading.model_fields}
        return cls(format=format, text=text, decoder=decoder, **said)


class FieldAgreement(DomainModel):
    """How one field of a query compares with a candidate, for the per-field explanation."""

    field: Literal[
        "name",
        "family",
        "middle",
        "given",
        "birth_date",
        "birth_year",
        "sex",
        "province",
        "phone",
        "identifier",
        "address",
    ]
    level: Literal["agrees", "close", "differs", "missing"]
    note: str = ""
    """A short explanation such as `day and month swapped`, in English (logs, JSON)."""
    code: str = ""
    """The note's stable code (`swapped`, `year-only`...), which screens translate; empty when there is no note."""
    weight: float = 0.0
    """The log-likelihood contribution of this field to the score."""


class PatientRecord(DomainModel):
    """A patient as a server (or the cache) knows them."""

    id: Annotated[str, Field(pattern=FHIR_ID_PATTERN)]
    identifiers: tuple[Identifier, ...] = ()
    demographics: Demographics = Demographics()


class Candidate(DomainModel):
    """A possible match for a demographic query, ranked."""

    patient: PatientRecord
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    grade: MatchGrade
    agreements: tuple[FieldAgreement, ...] = ()

    @property
    def explanation(self) -> str:
        return ", ".join(f"{a.field} {a.note or a.level}" for a in self.agreements if a.level != "missing")


class DocumentType(StrEnum):
    """Composition.type of shared documents (LOINC)."""

    PATIENT_SUMMARY = "60591-5"
    EPISODE_SUMMARY = "34133-9"
    PRESCRIPTION = "57833-6"
    REFERRAL = "57133-1"
    APPOINTMENT = "56446-8"
    OTHER = "other"


class Provenance(DomainModel):
    """Where an item of a summary came from and whether its document's signature holds."""

    facility_code: NameText | None = None
    facility_name: NameText | None = None
    document_id: str | None = None
    document_type: DocumentType = DocumentType.OTHER
    date: dt.date | None = None
    signature: SignatureStatus = SignatureStatus.UNSIGNED


class DocumentInfo(DomainModel):
    """One shared facility document of a summary."""

    id: str
    type: DocumentType
    title: DisplayText = ""
    facility_code: NameText | None = None
    facility_name: NameText | None = None
    date: dt.date | None = None
    signature: SignatureCheck


class SummaryItem(DomainModel):
    """One line of a summary section: an allergy, a problem, a medication, an appointment..."""

    text: DisplayText
    code: NameText | None = None
    detail: DisplayText | None = None
    """Severity, dose, status: what a clinician reads right after the text."""
    date: dt.date | None = None
    provenance: Provenance = Provenance()
    criticality: Literal["low", "high", "unable-to-assess"] | None = None
    """An allergy's criticality (AllergyIntolerance.criticality): `high` is shown first, in red."""
    reaction: DisplayText | None = None
    """An allergy's reactions, as the document words them (`phản vệ, khó thở`)."""
    reaction_severity: Literal["mild", "moderate", "severe"] | None = None
    """The most severe of its reactions' severities."""
    from_prescription: bool = False
    """A current medication known only from an active e-prescription (no medication statement names it)."""


class Appointment(DomainModel):
    """A re-examination appointment, which reception and lobby can check in."""

    id: str
    start: dt.datetime
    status: Literal[
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    ]
    description: DisplayText = ""
    """What the visit is for; may name a diagnosis, so the lobby never shows it (time, place, department only)."""
    facility_name: NameText | None = None
    department: NameText | None = None
    """The department (Appointment.specialty, by its coded display): shown to everyone, unlike the description."""
    provenance: Provenance = Provenance()


class Referral(DomainModel):
    """A referral paper (ServiceRequest) between facilities."""

    id: str
    reason: DisplayText
    from_facility: NameText | None = None
    to_facility: NameText | None = None
    date: dt.date | None = None
    status: NameText = "active"
    provenance: Provenance = Provenance()


class Observation(DomainModel):
    """One lab result, kept numeric where it is so trends can be drawn."""

    code: NameText
    name: NameText
    value: float | None = None
    value_text: DisplayText | None = None
    unit: NameText | None = None
    date: dt.date | None = None
    provenance: Provenance = Provenance()
    low: float | None = None
    high: float | None = None
    """The reference range (Observation.referenceRange low and high), either end may be open."""
    range_text: DisplayText | None = None
    """The reference range as the laboratory words it, when it gave no numbers."""
    flag: Literal["H", "L", "HH", "LL", "A"] | None = None
    """High, low, critically high or low, abnormal: the laboratory's interpretation, else read from the range."""


class SectionState(StrEnum):
    """What an empty or full section of a summary means: the difference between "none" and "not known"."""

    RECORDED = "recorded"
    NONE_KNOWN = "none-known"
    """The source asserts there are none (a section's `nilknown`, a "no known allergy" entry)."""
    NO_INFORMATION = "no-information"
    """Nothing was received: it says nothing about the patient."""
    NOT_SHARED = "not-shared"
    """Consent or the kiosk's scope withheld it."""
    INCOMPLETE = "incomplete"
    """Part was received: the server holds more than it sent (its `total`, or more pages than the kiosk reads)."""
    NOT_READ = "not-read"
    """The server failed to answer for this section while the rest answered: there may be records not shown."""

    @property
    def partial(self) -> bool:
        """Whether the state holds even for a section with items: what is shown is not all there is."""
        return self in (SectionState.INCOMPLETE, SectionState.NOT_READ)


SUMMARY_SECTIONS: Final = (
    "allergies",
    "problems",
    "medications",
    "prescriptions",
    "referrals",
    "appointments",
    "encounters",
    "immunizations",
    "results",
    "critical_facts",
)
"""Every section of a summary that has a completeness state (`PatientSummary.completeness`)."""


class CriticalFact(DomainModel):
    """A fact an emergency team must see before anything else: blood type, pregnancy, an implant, a DNR order..."""

    kind: Literal["blood-type", "pregnancy", "device", "advance-directive", "flag"]
    text: DisplayText
    date: dt.date | None = None
    provenance: Provenance = Provenance()


class Alert(DomainModel):
    """A warning the summary raises itself, such as an allergy that a prescribed drug conflicts with."""

    kind: Literal["drug-allergy"]
    text: DisplayText
    """In English, for the JSON and logs of the person's own record (never a log line)."""
    allergy: NameText = ""
    drug: NameText = ""
    drug_class: NameText = ""
    """The class through which they conflict (`penicillins`), empty when the drug is the allergen itself."""


class PatientSummary(DomainModel):
    """The emergency summary: everything shared about one patient, each item with its provenance."""

    patient: PatientRecord
    allergies: tuple[SummaryItem, ...] = ()
    problems: tuple[SummaryItem, ...] = ()
    medications: tuple[SummaryItem, ...] = ()
    prescriptions: tuple[SummaryItem, ...] = ()
    referrals: tuple[Referral, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    encounters: tuple[SummaryItem, ...] = ()
    immunizations: tuple[SummaryItem, ...] = ()
    blood_type: SummaryItem | None = None
    results: tuple[Observation, ...] = ()
    documents: tuple[DocumentInfo, ...] = ()
    critical_facts: tuple[CriticalFact, ...] = ()
    alerts: tuple[Alert, ...] = ()
    completeness: dict[str, SectionState] = Field(default_factory=dict)
    """Every name of `SUMMARY_SECTIONS` with its state; a section with items is `recorded` unless part of it could
    not be read (`SectionState.partial`), and one nobody stated anything about is `no-information`, never "none"."""

    @model_validator(mode="after")
    def _every_section_stated(self) -> PatientSummary:
        stated = dict(self.completeness)
        filled = {name: bool(getattr(self, name)) for name in SUMMARY_SECTIONS}
        filled["critical_facts"] = filled["critical_facts"] or self.blood_type is not None
        complete: dict[str, SectionState] = {}
        for name in SUMMARY_SECTIONS:
            said = stated.get(name)
            if said is not None and said.partial:
                complete[name] = said
            elif filled[name]:
                complete[name] = SectionState.RECORDED
            elif said is None or said is SectionState.RECORDED:
                complete[name] = SectionState.NO_INFORMATION
            else:
                complete[name] = said
        object.__setattr__(self, "completeness", complete)
        return self

    @property
    def has_invalid_document(self) -> bool:
        """Whether a document failed its check in a way to warn of: tampered, or signed by another facility."""
        return any(d.signature.status in FAILED_SIGNATURES for d in self.documents)


class LookupStatus(StrEnum):
    FOUND = "found"
    CANDIDATES = "candidates"
    NOT_FOUND = "not-found"
    CONSENT_REQUIRED = "consent-required"
    OFFLINE = "offline"
    WRONG_PATIENT = "wrong-patient"
    """The server answered with records or a Patient of another person than the one asked for: nothing of the answer
    is shown or kept, and the message says which part did not match, in words without data."""
    REFUSED = "refused"
    """The kiosk stopped the lookup itself to stay safe: the server or a health link would have had credentials, a
    token or a passcode sent elsewhere or in the clear, or offered more than the kiosk reads. The message says which;
    it is no statement about the patient's records."""
    IDENTITY_MISMATCH = "identity-mismatch"
    """A scanned card's identifier found a record whose name, birth date or sex disagree with the card's: the
    outcome carries both identities (`card`, `patient`, the fields in `differs`) and nothing clinical was asked for;
    only a person who confirms it is the same person opens the record."""


class LookupSource(StrEnum):
    NETWORK = "network"
    CACHE = "cache"


class LookupOutcome(DomainModel):
    """The answer to one lookup, whatever happened. Errors of the network are outcomes, not exceptions."""

    status: LookupStatus
    source: LookupSource = LookupSource.NETWORK
    age_seconds: Annotated[float | None, Field(ge=0)] = None
    """How old cached data is; None for data fresh from the network."""
    patient: PatientRecord | None = None
    candidates: tuple[Candidate, ...] = ()
    summary: PatientSummary | None = None
    break_glass: bool = False
    message: DisplayText | None = None
    """Why it ended as it did, in plain English words without patient data (for `offline`, `not-found`)."""
    fault: str | None = None
    """The kind of request fault behind it (`unreachable`, `timeout`...), which screens translate; None when none."""
    card: Demographics | None = None
    """`identity-mismatch`: who the scanned card says it is (`patient` is the record its identifier found)."""
    differs: tuple[Literal["name", "birth_date", "sex"], ...] = ()
    """`identity-mismatch`: the fields on which card and record disagree."""
    fallback: Demographics | None = None
    """`not-found` of a card whose identifier is on no record: the card's demographics, which a person may choose
    to search by (never searched by themselves)."""
    reached_through: str | None = None
    """The temporary number the lookup began from when that temporary identity was linked to this (real) patient:
    the screen says the record was reached through it."""

    @model_validator(mode="after")
    def _shape_fits_status(self) -> LookupOutcome:
        if self.status is LookupStatus.FOUND and self.patient is None:
            raise ValueError("a `found` outcome needs the patient")
        if self.status is LookupStatus.CANDIDATES and not self.candidates:
            raise ValueError("a `candidates` outcome needs at least one candidate")
        if self.source is LookupSource.CACHE and self.age_seconds is None:
            raise ValueError("an answer from the cache must say how old it is")
        if self.status is LookupStatus.WRONG_PATIENT and (self.patient or self.summary or self.candidates):
            raise ValueError("a `wrong-patient` outcome carries nothing of the answer it refused")
        if self.status is LookupStatus.IDENTITY_MISMATCH and (self.patient is None or self.card is None):
            raise ValueError("an `identity-mismatch` outcome needs both the card's identity and the record's")
        if self.status is LookupStatus.IDENTITY_MISMATCH and (self.summary or self.candidates):
            raise ValueError("an `identity-mismatch` outcome carries nothing clinical")
        return self

    @field_validator("candidates")
    @classmethod
    def _ranked(cls, value: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        return tuple(sorted(value, key=lambda c: c.score, reverse=True))
