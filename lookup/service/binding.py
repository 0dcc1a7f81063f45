"""Binding: every answer shown is about the patient asked for, and every `valid` document was signed by the facility
it names. Pure functions, called by the lookup service on every path (summary, assembled documents, per-resource
records, reads, identifier searches, reception's referrals and appointments, health links, the offline cache).

Subject. A lookup that opens patient P asks the server about P only, so everything in the answer must be about P:
the Patient returned has id P (and, when the lookup began from a scanned or typed identifier, carries one of
those identifiers); every document's Composition.subject names P; every reference to a Patient anywhere inside a
document (AllergyIntolerance.patient, Condition.subject, Appointment.participant.actor...) names P, or the
document's own Patient entry when that entry is P; every record fetched on its own names P and no one else.
References are read by `lookup.fhir.references` (relative, absolute, versioned, `urn:uuid:` fullUrls, contained,
logical identifiers); a reference to a patient that cannot be read counts as another patient. A record fetched on
its own from the server may name P relatively, versioned (`Patient/P/_history/3`) or absolutely on that server's
own base (`https://server/fhir/Patient/P`); an absolute reference to a Patient P on another base is another
person (`Subject.base`). Inside a signed document, absolute references keep the base of the system that issued it,
which need not be the server that serves it, so there the id decides.

Anything else refuses the WHOLE answer (`WrongPatientError`, shown as a `wrong-patient` outcome): the foreign parts
are not dropped to show the rest. A server that puts another person's signed documents into P's answer has lost
the link between request and answer, and what it left out of P's is unknown: showing the remainder as P's record
would show "no known allergy" where P's allergy was swapped away. This holds for searches too (documents by
`composition.subject`, per-resource searches, referrals, appointments, identifier search): a server that ignored
the patient filter would answer about everyone, at best a truncated page of it, and filtering that page would show
a record that looks complete and is not. Such a server is told apart from a correct one by the refusal's message,
never by a silent gap. Nothing of a refused answer is cached; the refusal itself is audited.

Signer. A signature that holds (`lookup.trust.signatures`) makes a document `valid` only when the trusted key
belongs to the facility the document is shown as coming from (its custodian, else its first Organization author:
`lookup.fhir.documents.document_facility`), compared by facility code with the key's `facility_code` in the trust
list. Otherwise the document is `signer-mismatch`: a district centre's key cannot vouch for a document that names
Bạch Mai, and a card issuer's key (no facility code) vouches for no facility document at all. The key is bound to
the facility shown, not to any facility named: a document with Bạch Mai as custodian and the district centre as
one of its authors, signed by the centre, would otherwise be `valid` and read as Bạch Mai's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

from lookup.domain.model import Identifier, PatientRecord, SignatureCheck, SignatureStatus
from lookup.domain.origins import origin_of
from lookup.fhir.documents import composition_of, document_facility, resources
from lookup.fhir.patient import identifiers_of
from lookup.fhir.references import Target, entry_index, references, target
from lookup.service.offline_store import identifier_key
from lookup.trust.signatures import signature_and_key
from lookup.trust.trust_list import TrustList

Json = dict[str, Any]
PATIENT_ELEMENTS: Final = frozenset({"subject", "patient"})
"""Elements that name the person a record is about: a reference there that cannot be read is not this patient."""
SERVER: Final = "the server's answer"
LINK: Final = "the health link"


class WrongPatientError(Exception):
    """An answer about another person than the one asked for. The message names which part did not match, in words
    without data; `patient_id` is the patient that was asked for (audited), never the other one."""

    def __init__(self, what: str, *, patient_id: str | None = None, source: str = SERVER) -> None:
        self.what = what
        self.patient_id = patient_id
        self.source = source
        super().__init__(f"{source} holds {what}; nothing of it is shown")

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Subject:
    """The patient an answer must be about."""

    patient_id: str
    asked: tuple[Identifier, ...] = ()
    """The identifiers the lookup began from (scanned or typed): the Patient returned must carry one of them."""
    carried: tuple[Identifier, ...] = ()
    """The identifiers of the bound Patient, to recognise a document's Patient entry that has no id."""
    source: str = SERVER
    base: str | None = None
    """The base URL of the server that answered: records fetched on their own that name a Patient absolutely must
    name it there."""

    def refuse(self, what: str) -> WrongPatientError:
        return WrongPatientError(what, patient_id=self.patient_id, source=self.source)

    def knowing(self, record: PatientRecord | None) -> Subject:
        """The same subject, recognising the identifiers of its bound Patient record."""
        return self if record is None else replace(self, carried=(*self.carried, *record.identifiers))


def _shares(ours: Iterable[Identifier], theirs: Iterable[Identifier]) -> bool:
    # Compared as the offline cache indexes them (no case, spaces or dashes), so online and offline agree.
    return bool({identifier_key(i) for i in ours} & {identifier_key(i) for i in theirs})


def carries_one_of(record: PatientRecord, identifiers: Sequence[Identifier]) -> bool:
    return _shares(record.identifiers, identifiers)


# -- the Patient -----------------------------------------------------------------------------------------------


def bind_record(record: PatientRecord, subject: Subject) -> PatientRecord:
    """The Patient record when it is the subject (its id; one of the asked identifiers when there are any)."""
    if record.id != subject.patient_id:
        raise subject.refuse("a Patient resource of another person")
    if subject.asked and not carries_one_of(record, subject.asked):
        raise subject.refuse("a Patient that does not carry the identifier that was scanned or typed")
    return record


def bind_patient_resources(found: Iterable[Mapping[str, Any]], subject: Subject) -> None:
    """Every Patient resource an answer holds at its top level is the subject."""
    for resource in found:
        if resource.get("id") != subject.patient_id:
            raise subject.refuse("a Patient resource of another person")
        if subject.asked and not _shares(identifiers_of(resource), subject.asked):
            raise subject.refuse("a Patient that does not carry the identifier that was scanned or typed")


def bind_identified(records: Sequence[PatientRecord], identifiers: Sequence[Identifier]) -> None:
    """Every Patient an identifier search found carries one of the identifiers searched for."""
    if any(not carries_one_of(r, identifiers) for r in records):
        raise WrongPatientError("a Patient that does not carry the identifier that was searched for")


# -- references ------------------------------------------------------------------------------------------------


def _is_subject_patient(resource: Mapping[str, Any], subject: Subject) -> bool:
    """A Patient resource inside a document is the subject: by id, or (an entry without id) by an identifier."""
    rid = resource.get("id")
    if isinstance(rid, str):
        return rid == subject.patient_id
    return _shares(identifiers_of(resource), (*subject.carried, *subject.asked))


def same_base(one: str, other: str) -> bool:
    """Two FHIR base URLs name the same server: same origin, same path (a trailing slash aside)."""
    path_one, path_other = urlsplit(one).path.rstrip("/"), urlsplit(other).path.rstrip("/")
    return origin_of(one) is not None and origin_of(one) == origin_of(other) and path_one == path_other


def _names_subject(found: Target, subject: Subject, base: str | None = None) -> bool:
    """Whether `found` is the subject; with `base`, an absolute reference must also be on that base."""
    if found.resource is not None:
        return found.resource.get("resourceType") == "Patient" and _is_subject_patient(found.resource, subject)
    if found.id is not None:
        if base is not None and found.base is not None and not same_base(found.base, base):
            return False
        return found.id == subject.patient_id
    if found.identifier is not None:
        system, value = found.identifier
        try:
            named = Identifier(system=system, value=value)
        except ValueError:
            return False
        return _shares((named,), (*subject.carried, *subject.asked))
    return False


def _patient_references(resource: Mapping[str, Any], index: Mapping[str, Json] | None) -> Iterable[Target]:
    """Each reference of `resource` that names a patient, or may: one of unknown type in a patient element."""
    for element, ref in references(resource):
        found = target(ref, index, resource)
        if found is not None and (found.type == "Patient" or (found.type is None and element in PATIENT_ELEMENTS)):
            yield found


def _bind_resource(
    resource: Mapping[str, Any],
    subject: Subject,
    index: Mapping[str, Json] | None,
    foreign: str,
    *,
    unnamed: str | None = None,
    base: str | None = None,
) -> None:
    """Every patient `resource` names is the subject (else `foreign`); with `unnamed`, it must name one at all."""
    if resource.get("resourceType") == "Patient":
        # A Patient's own references (`link` to the records it replaced, its practitioner) are not about someone
        # else's care: the Patient itself is what must be the subject.
        if not _is_subject_patient(resource, subject):
            raise subject.refuse(foreign)
        return
    seen = False
    for found in _patient_references(resource, index):
        if not _names_subject(found, subject, base):
            raise subject.refuse(foreign)
        seen = True
    if unnamed is not None and not seen:
        raise subject.refuse(unnamed)


# -- documents and records -------------------------------------------------------------------------------------


def bind_document(document: Mapping[str, Any], subject: Subject) -> None:
    """A document is about the subject: its Composition.subject, its Patient entries and every patient any of its
    entries names. Raises `WrongPatientError`."""
    index = entry_index(document)
    composition = composition_of(document)
    # A Bundle without a Composition (a health link may share a collection) makes no claim of its own: its entries
    # are still bound one by one.
    if composition is not None:
        named = target(composition.get("subject"), index, composition)
        if named is None:
            raise subject.refuse("a document that names no patient")
        if not _names_subject(named, subject):
            raise subject.refuse("a document about another patient")
    for resource in resources(document):
        _bind_resource(resource, subject, index, "a document with an entry about another patient")


def bind_documents(documents: Iterable[Mapping[str, Any]], subject: Subject) -> None:
    for document in documents:
        bind_document(document, subject)


def bind_records(found: Iterable[Mapping[str, Any]], subject: Subject, what: str = "a record") -> None:
    """Records fetched on their own (unsigned resources, referrals, appointments) each name the subject, and no
    one else: nothing but their own reference ties them to this patient."""
    for resource in found:
        _bind_resource(
            resource,
            subject,
            None,
            f"{what} about another patient",
            unnamed=f"{what} that names no patient",
            base=subject.base,
        )


def bind_answer(
    subject: Subject,
    patient: PatientRecord | None,
    patients: Iterable[Mapping[str, Any]],
    documents: Iterable[Mapping[str, Any]],
    loose: Iterable[Mapping[str, Any]],
) -> Subject:
    """A whole answer about the subject: its Patient (parsed, and every Patient resource it held), its documents
    and its loose records. Returns the subject knowing its Patient's identifiers; raises `WrongPatientError`."""
    if patient is not None:
        bind_record(patient, subject)
    bind_patient_resources(patients, subject)
    known = subject.knowing(patient)
    bind_documents(documents, known)
    bind_records(loose, known)
    return known


# -- signer ----------------------------------------------------------------------------------------------------


def check_document(document: Mapping[str, Any], trust: TrustList) -> SignatureCheck:
    """A document's signature check, `valid` only when the trusted key belongs to the facility it names."""
    check, key = signature_and_key(document, trust)
    if check.status is not SignatureStatus.VALID or key is None:
        return check
    code, _name = document_facility(document)
    if key.facility_code is None:
        reason = f"signed with the key of {key.signer}, which belongs to no facility"
    elif code is None:
        reason = f"signed with the key of facility {key.signer}, but the document names no facility code"
    elif code.strip() != key.facility_code.strip():
        reason = f"signed with the key of facility {key.signer}, but the document names facility {code}"
    else:
        return check
    return SignatureCheck(status=SignatureStatus.SIGNER_MISMATCH, issuer=key.signer, reason=reason)
