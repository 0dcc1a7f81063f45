"""What FHIR itself says about a summary's meaning: whether a section is empty because there is nothing (`nilknown`,
a "no known allergy" entry), because it was withheld (`withheld`, an OperationOutcome `suppressed`), or because
nobody said; the critical facts (pregnancy, implants, DNR, flags); a lab result's reference range and flag; an
allergy with its criticality and reaction, in the order a nurse must read them; and which e-prescriptions are
current medication.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from lookup.domain.model import CriticalFact, Provenance, SectionState, SummaryItem
from lookup.domain.text import fold
from lookup.fhir.primitives import code_of, items, parse_date, text_of
from lookup.fhir.references import target

Json = dict[str, Any]

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
NO_KNOWN_ALLERGY: Final = frozenset({"716186003", "409137002", "428607008", "429625007"})
"""SNOMED CT: no known allergy, no known drug / environmental / food allergy."""
NO_KNOWN_PROBLEM: Final = frozenset({"160245001"})
"""SNOMED CT: no current problems or disability."""
PREGNANCY_CODES: Final = frozenset({"82810-3", "11449-6"})
ADVANCE_DIRECTIVE_CODES: Final = frozenset({"75320-2", "42348-3", "304253006"})
"""LOINC advance directive, advance directives; SNOMED CT not for resuscitation."""
SECTION_OF_TYPE: Final[dict[str, str]] = {
    "AllergyIntolerance": "allergies",
    "Condition": "problems",
    "MedicationStatement": "medications",
    "MedicationRequest": "prescriptions",
    "ServiceRequest": "referrals",
    "Appointment": "appointments",
    "Encounter": "encounters",
    "Immunization": "immunizations",
    "Observation": "results",
    "Device": "critical_facts",
    "DeviceUseStatement": "critical_facts",
    "Flag": "critical_facts",
    "Consent": "critical_facts",
}
SECTION_OF_CODE: Final[dict[str, str]] = {
    "48765-2": "allergies",
    "11450-4": "problems",
    "10160-0": "medications",
    "57828-6": "prescriptions",
    "42349-1": "referrals",
    "57133-1": "referrals",
    "18776-5": "appointments",
    "46240-8": "encounters",
    "11369-6": "immunizations",
    "30954-2": "results",
    "46264-8": "critical_facts",
    "42348-3": "critical_facts",
    "104605-1": "critical_facts",
}
"""Composition section codes (LOINC, as the IPS and Vietnamese documents use them) -> the summary's sections."""
_EMPTY_REASON: Final[dict[str, SectionState]] = {
    "nilknown": SectionState.NONE_KNOWN,
    "withheld": SectionState.NOT_SHARED,
}
_WEIGHT: Final[dict[SectionState, int]] = {
    SectionState.NO_INFORMATION: 0,
    SectionState.NONE_KNOWN: 1,
    SectionState.NOT_SHARED: 2,
    # A section partly read outweighs any statement about it: one source's "none" is no answer for what another
    # source failed to send.
    SectionState.INCOMPLETE: 3,
    SectionState.NOT_READ: 4,
}
Flag = Literal["H", "L", "HH", "LL", "A"]
_FLAGS: Final[dict[str, Flag]] = {
    "H": "H",
    "L": "L",
    "HH": "HH",
    "LL": "LL",
    "HU": "HH",
    "LU": "LL",
    "A": "A",
    "AA": "A",
}


def stronger(a: SectionState | None, b: SectionState) -> SectionState:
    """Two sources' statements about one section: not read over partly read over withheld over "none known" over
    silence, so one document's "none" never hides what another withheld or what the server failed to send."""
    return b if a is None or _WEIGHT.get(b, 0) > _WEIGHT.get(a, 0) else a


def section_states(composition: Mapping[str, Any]) -> dict[str, SectionState]:
    """The states a document's empty sections state (Composition.section.emptyReason); other reasons (`notasked`,
    `unavailable`, `notstarted`) say nothing was received."""
    states: dict[str, SectionState] = {}
    for section in items(composition.get("section")):
        if not isinstance(section, Mapping) or items(section.get("entry")):
            continue
        name = SECTION_OF_CODE.get(code_of(section.get("code")) or "")
        reason = code_of(section.get("emptyReason")) or ""
        if name is not None:
            states[name] = stronger(states.get(name), _EMPTY_REASON.get(reason, SectionState.NO_INFORMATION))
    return states


def none_known(resource: Mapping[str, Any]) -> str | None:
    """The section an entry coded "no known allergy" or "no current problems" states is empty, else None."""
    code = code_of(resource.get("code"), SNOMED)
    kind = resource.get("resourceType")
    if kind == "AllergyIntolerance" and code in NO_KNOWN_ALLERGY:
        return "allergies"
    if kind == "Condition" and code in NO_KNOWN_PROBLEM:
        return "problems"
    return None


def withheld(outcome: Mapping[str, Any]) -> set[str] | None:
    """The sections an OperationOutcome says were suppressed (consent or scope), from its issues' `expression`
    (resource types or section names); an empty set means "some, unnamed". None when it withholds nothing."""
    named: set[str] = set()
    found = False
    for issue in items(outcome.get("issue")):
        if not isinstance(issue, Mapping) or issue.get("code") != "suppressed":
            continue
        found = True
        for expression in items(issue.get("expression")):
            if isinstance(expression, str):
                head = expression.split(".")[0]
                name = SECTION_OF_TYPE.get(head, head)
                named.add(name)
    return named if found else None


def critical_fact(resource: Mapping[str, Any], index: Mapping[str, Json], prov: Provenance) -> CriticalFact | None:
    """A pregnancy status, an implant or device, a DNR or advance directive, or an active flag (isolation...)."""
    kind = resource.get("resourceType")
    if kind == "Observation":
        code = code_of(resource.get("code"))
        value = text_of(resource.get("valueCodeableConcept")) or resource.get("valueString")
        date = parse_date(resource.get("effectiveDateTime"))
        if code in PREGNANCY_CODES and isinstance(value, str):
            return CriticalFact(kind="pregnancy", text=value, date=date, provenance=prov)
        if code in ADVANCE_DIRECTIVE_CODES and isinstance(value, str):
            return CriticalFact(kind="advance-directive", text=value, date=date, provenance=prov)
        return None
    if resource.get("status") in ("inactive", "entered-in-error", "rejected", "completed", "stopped"):
        return None
    text: str | None = None
    fact: Literal["device", "advance-directive", "flag"] | None = None
    if kind == "Device":
        names = [n.get("name") for n in items(resource.get("deviceName")) if isinstance(n, Mapping)]
        text = next((n for n in names if isinstance(n, str)), None) or text_of(resource.get("type"))
        fact = "device"
    elif kind == "DeviceUseStatement":
        ref = resource.get("device")
        found = target(ref, index)
        device = found.resource if found is not None else None
        if isinstance(device, Mapping) and device.get("resourceType") == "Device":
            return critical_fact(device, index, prov)
        text = ref.get("display") if isinstance(ref, Mapping) else None
        fact = "device"
    elif kind == "Consent":
        if code_of(resource.get("scope")) == "adr" or any(
            code_of(c) in ADVANCE_DIRECTIVE_CODES for c in items(resource.get("category"))
        ):
            categories = items(resource.get("category"))
            text = (text_of(categories[0]) if categories else None) or "advance directive"
            fact = "advance-directive"
    elif kind == "Flag":
        text = text_of(resource.get("code"))
        fact = "flag"
    if not isinstance(text, str) or fact is None:
        return None
    return CriticalFact(kind=fact, text=text, date=parse_date(resource.get("recordedDate")), provenance=prov)


def reference_range(resource: Mapping[str, Any]) -> tuple[float | None, float | None, str | None]:
    """The first reference range: (low, high, its text)."""
    for ranged in items(resource.get("referenceRange")):
        if not isinstance(ranged, Mapping):
            continue
        ends = [ranged.get(end) for end in ("low", "high")]
        low, high = (
            float(e["value"]) if isinstance(e, Mapping) and isinstance(e.get("value"), int | float) else None
            for e in ends
        )
        text = ranged.get("text")
        return low, high, text if isinstance(text, str) else None
    return None, None, None


def lab_flag(resource: Mapping[str, Any], value: float | None, low: float | None, high: float | None) -> Flag | None:
    """The laboratory's interpretation (H, L, HH, LL, A; `N` is none), else the value read against the range."""
    for concept in items(resource.get("interpretation")):
        code = code_of(concept)
        if code is not None:
            return _FLAGS.get(code.upper())
    if value is None:
        return None
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return None


def prescription_current(resource: Mapping[str, Any], today: dt.date) -> bool:
    """An active e-prescription still within its validity (dispenseRequest.validityPeriod.end, else authoredOn plus
    its expected supply duration in days); one that gives neither stays current while it is active."""
    if resource.get("status") != "active":
        return False
    dispense = resource.get("dispenseRequest")
    dispense = dispense if isinstance(dispense, Mapping) else {}
    period = dispense.get("validityPeriod")
    end = parse_date(period.get("end")) if isinstance(period, Mapping) else None
    if end is None:
        authored = parse_date(resource.get("authoredOn"))
        supply = dispense.get("expectedSupplyDuration")
        days = supply.get("value") if isinstance(supply, Mapping) and supply.get("code", "d") == "d" else None
        if authored is not None and isinstance(days, int | float):
            end = authored + dt.timedelta(days=float(days))
    return end is None or end >= today


_CRITICALITY = frozenset({"low", "high", "unable-to-assess"})
_NOT_SO = frozenset({"refuted", "entered-in-error"})


_SEVERITIES: tuple[Literal["mild", "moderate", "severe"], ...] = ("mild", "moderate", "severe")


def _reaction(resource: Mapping[str, Any]) -> tuple[str | None, Literal["mild", "moderate", "severe"] | None]:
    """Every reaction's manifestations (`phản vệ, khó thở`) and the most severe of their severities."""
    signs: list[str] = []
    worst = -1
    for reaction in items(resource.get("reaction")):
        if not isinstance(reaction, Mapping):
            continue
        signs.extend(t for t in (text_of(m) for m in items(reaction.get("manifestation"))) if t)
        severity = reaction.get("severity")
        if severity in _SEVERITIES:
            worst = max(worst, _SEVERITIES.index(severity))
    return ", ".join(dict.fromkeys(signs)) or None, _SEVERITIES[worst] if worst >= 0 else None


def allergy_item(resource: Mapping[str, Any], prov: Provenance) -> SummaryItem | None:
    text = text_of(resource.get("code"))
    if not text or code_of(resource.get("verificationStatus")) in _NOT_SO:
        return None
    criticality = resource.get("criticality")
    known = criticality if criticality in _CRITICALITY else None
    reaction, severity = _reaction(resource)
    return SummaryItem(
        text=text,
        code=code_of(resource.get("code")),
        detail=known,
        date=parse_date(resource.get("onsetDateTime")) or parse_date(resource.get("recordedDate")),
        provenance=prov,
        criticality=known,
        reaction=reaction,
        reaction_severity=severity,
    )


_CRITICALITY_ORDER = {"high": 0, "unable-to-assess": 1, None: 2, "low": 3}


def allergy_rank(item: SummaryItem) -> tuple[int, int]:
    """High criticality first; within one criticality, the newest record first."""
    day = item.date or item.provenance.date
    return _CRITICALITY_ORDER[item.criticality], -(day.toordinal() if day else 0)


def reconciled(statements: Sequence[SummaryItem], current: Sequence[SummaryItem]) -> tuple[SummaryItem, ...]:
    """Current medication: what statements say, plus each active e-prescription's drug no statement names (newest
    prescription of a drug only), so "none" never sits above a prescription being taken."""
    named = {fold(s.text) for s in statements}
    added: list[SummaryItem] = []
    for item in sorted(current, key=lambda i: i.date or dt.date.min, reverse=True):
        key = fold(item.text)
        if key not in named:
            named.add(key)
            added.append(item)
    return (*statements, *added)
