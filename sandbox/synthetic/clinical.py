"""Each synthetic person's clinical history, derived from (seed, index) alone so it can be made on demand.

Loading a million people must stay fast, so only what must be searchable across people is computed while loading
(appointments and referrals, `events`); the rest (allergies, conditions, lab series, `book`) is derived when the
person's documents are first asked for. Days are offsets from "today" as the server sees it, so a re-examination
due today stays due today whenever the sandbox runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from sandbox.synthetic.facilities import FACILITIES, Facility, central_for, local_facilities

_GOLDEN: Final = 2_654_435_761
_MASK: Final = 0xFFFFFFFF


def _unit(index: int, seed: int, salt: int) -> float:
    """A cheap deterministic number in [0, 1) per person: no generator to seed while bulk loading."""
    value = (index * _GOLDEN + seed * 40_503 + salt * 97_231) & _MASK
    value ^= value >> 15
    value = (value * 2_246_822_519) & _MASK
    value ^= value >> 13
    return value / 2**32


def has_documents(index: int, seed: int, share: float) -> bool:
    return _unit(index, seed, 1) < share


def has_consent(index: int, seed: int) -> bool:
    """About one person in twelve has not consented to sharing (their summary needs break-glass)."""
    return _unit(index, seed, 2) >= 0.08


@dataclass(frozen=True, slots=True)
class Coded:
    """A coded clinical concept."""

    system: str
    code: str
    display: str


ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
SNOMED: Final = "http://snomed.info/sct"
ATC: Final = "http://www.whocc.no/atc"

CONDITIONS: Final[tuple[Coded, ...]] = (
    Coded(ICD10, "E11", "Đái tháo đường type 2"),
    Coded(ICD10, "I10", "Tăng huyết áp vô căn"),
    Coded(ICD10, "J45", "Hen phế quản"),
    Coded(ICD10, "N18", "Bệnh thận mạn"),
    Coded(ICD10, "E78", "Rối loạn chuyển hóa lipid"),
    Coded(ICD10, "K29", "Viêm dạ dày"),
    Coded(ICD10, "I25", "Bệnh tim thiếu máu cục bộ mạn"),
    Coded(ICD10, "B18.1", "Viêm gan virus B mạn"),
)
ALLERGENS: Final[tuple[tuple[Coded, str], ...]] = (
    (Coded(SNOMED, "764146007", "Penicillin"), "high"),
    (Coded(SNOMED, "387458008", "Aspirin"), "low"),
    (Coded(SNOMED, "44027008", "Hải sản"), "high"),
    (Coded(SNOMED, "387406002", "Sulfonamide"), "low"),
    (Coded(SNOMED, "762952008", "Đậu phộng"), "high"),
)
REACTIONS: Final[dict[str, tuple[str, str]]] = {
    "764146007": ("Phản vệ", "severe"),
    "387458008": ("Nổi mày đay", "mild"),
    "44027008": ("Phù mạch", "severe"),
    "387406002": ("Phát ban", "moderate"),
    "762952008": ("Phản vệ", "severe"),
}
"""Each allergen's reaction (AllergyIntolerance.reaction manifestation and severity)."""
MEDICATIONS: Final[dict[str, tuple[Coded, str]]] = {
    "E11": (Coded(ATC, "A10BA02", "Metformin 500 mg"), "Uống 1 viên x 2 lần/ngày sau ăn"),
    "I10": (Coded(ATC, "C08CA01", "Amlodipin 5 mg"), "Uống 1 viên buổi sáng"),
    "J45": (Coded(ATC, "R03AC02", "Salbutamol 100 mcg (bình xịt)"), "Xịt 2 nhát khi khó thở"),
    "N18": (Coded(ATC, "C09CA01", "Losartan 50 mg"), "Uống 1 viên buổi sáng"),
    "E78": (Coded(ATC, "C10AA05", "Atorvastatin 20 mg"), "Uống 1 viên buổi tối"),
    "K29": (Coded(ATC, "A02BC01", "Omeprazol 20 mg"), "Uống 1 viên trước ăn sáng"),
    "I25": (Coded(ATC, "B01AC06", "Aspirin 81 mg"), "Uống 1 viên sau ăn trưa"),
    "B18.1": (Coded(ATC, "J05AF07", "Tenofovir 300 mg"), "Uống 1 viên mỗi ngày"),
}
ACUTE: Final = (Coded(ATC, "N02BE01", "Paracetamol 500 mg"), "Uống 1 viên khi sốt trên 38.5 độ, cách 6 giờ")
ASPIRIN: Final = MEDICATIONS["I25"]
CARDIOVASCULAR_RISK: Final = frozenset({"I10", "I25", "N18", "E11"})
"""Conditions for which aspirin is prescribed: to a person allergic to it, the slip the kiosk's alert must catch."""
CHRONIC_SUPPLY_DAYS: Final = 180
ACUTE_SUPPLY_DAYS: Final = 5
NO_KNOWN_ALLERGY: Final = Coded(SNOMED, "716186003", "Không có dị ứng đã biết")


@dataclass(frozen=True, slots=True)
class LabTest:
    """A numeric laboratory test (LOINC) with the range synthetic values are drawn around, and the adult
    reference range a laboratory reports with it (`low` None: only an upper limit)."""

    code: str
    name: str
    unit: str
    ucum: str
    normal: float
    high: float
    range_low: float | None
    range_high: float


LABS: Final[dict[str, LabTest]] = {
    "hba1c": LabTest("4548-4", "HbA1c", "%", "%", 5.4, 8.5, 4.0, 5.6),
    "glucose": LabTest("15074-8", "Glucose máu", "mmol/L", "mmol/L", 5.2, 9.5, 3.9, 6.4),
    "creatinine": LabTest("14682-9", "Creatinin máu", "µmol/L", "umol/L", 80.0, 190.0, 62.0, 106.0),
    "cholesterol": LabTest("14647-2", "Cholesterol toàn phần", "mmol/L", "mmol/L", 4.6, 6.8, None, 5.2),
}
BLOOD_TYPES: Final = (("O", 42.0), ("A", 22.0), ("B", 30.0), ("AB", 6.0))


@dataclass(frozen=True, slots=True)
class Visit:
    """An encounter at a facility `day` days from today (negative: in the past)."""

    number: int
    day: int
    facility: Facility
    condition: Coded


@dataclass(frozen=True, slots=True)
class ReferralPlan:
    """A referral paper from one facility to another."""

    id: str
    day: int
    source: Facility
    target: Facility
    condition: Coded
    status: str


@dataclass(frozen=True, slots=True)
class AppointmentPlan:
    """A re-examination appointment."""

    id: str
    day: int
    minute: int
    """Minutes after midnight, local time."""
    facility: Facility
    condition: Coded
    status: str


@dataclass(frozen=True, slots=True)
class Events:
    """What a person has that other people's queries may find: visits, referrals, appointments."""

    conditions: tuple[Coded, ...]
    visits: tuple[Visit, ...]
    referrals: tuple[ReferralPlan, ...]
    appointments: tuple[AppointmentPlan, ...]


def events(index: int, seed: int, province_code: str) -> Events:
    rng = random.Random(index * 1_000_003 + seed)
    count = 1 if rng.random() < 0.55 else 2
    conditions = tuple(rng.sample(CONDITIONS, count))
    local = local_facilities(province_code)
    visits = tuple(
        Visit(n, -rng.randrange(1, 720), rng.choice(local), rng.choice(conditions)) for n in range(rng.randrange(2, 6))
    )
    visits = tuple(sorted(visits, key=lambda v: v.day))
    referrals: list[ReferralPlan] = []
    if rng.random() < 0.3:
        source = rng.choice(local)
        target = central_for(province_code) if rng.random() < 0.7 else rng.choice(FACILITIES)
        if target == source:
            target = next(f for f in FACILITIES if f != source and f.level != "district")
        status = "active" if rng.random() < 0.7 else "completed"
        referrals.append(ReferralPlan(f"sr{index}-0", -rng.randrange(0, 30), source, target, conditions[0], status))
    appointments: list[AppointmentPlan] = []
    for number in range(rng.randrange(0, 3)):
        roll = rng.random()
        if roll < 0.45:
            day, status = 0, "booked"
        elif roll < 0.75:
            day, status = rng.randrange(1, 60), "booked"
        else:
            day, status = -rng.randrange(1, 90), "fulfilled"
        minute = 7 * 60 + 15 * rng.randrange(0, 36)
        facility = referrals[0].target if referrals and number == 0 else rng.choice(local)
        appointments.append(
            AppointmentPlan(f"a{index}-{number}", day, minute, facility, rng.choice(conditions), status)
        )
    return Events(conditions, visits, tuple(referrals), tuple(appointments))


@dataclass(frozen=True, slots=True)
class LabResult:
    """One numeric result of a visit."""

    test: LabTest
    day: int
    value: float


@dataclass(frozen=True, slots=True)
class Book:
    """The e-health book's content: allergies, blood type, lab series."""

    allergies: tuple[tuple[Coded, str], ...]
    blood_type: str
    labs: tuple[LabResult, ...]
    allergies_stated: str = "absent"
    """For a person without allergies, what the book says: `entry` (a "no known allergy" AllergyIntolerance),
    `nilknown` (an empty section saying none are known) or `absent` (nothing: no information)."""


def _blood_type(rng: random.Random) -> str:
    roll = rng.random() * 100
    total = 0.0
    for group, weight in BLOOD_TYPES:
        total += weight
        if roll < total:
            return f"{group} Rh{'-' if rng.random() < 0.003 else '+'}"
    return "O Rh+"


def book(index: int, seed: int, plan: Events) -> Book:
    rng = random.Random(index * 2_000_029 + seed)
    allergies = tuple(rng.sample(ALLERGENS, rng.choice((0, 0, 1, 1, 2))))
    codes = {c.code for c in plan.conditions}
    tests = ["glucose", "cholesterol"]
    if "E11" in codes:
        tests.insert(0, "hba1c")
    if "N18" in codes or rng.random() < 0.3:
        tests.append("creatinine")
    labs: list[LabResult] = []
    for name in tests:
        test = LABS[name]
        sick = (name in {"hba1c", "glucose"} and "E11" in codes) or (name == "creatinine" and "N18" in codes)
        level = test.high if sick else test.normal
        trend = rng.uniform(-0.12, 0.08) * level
        for step, visit in enumerate(plan.visits):
            value = level + trend * step / max(1, len(plan.visits) - 1) + rng.gauss(0, 0.04 * level)
            labs.append(LabResult(test, visit.day, round(max(value, 0.1), 1)))
    # Drawn apart from `rng` so that the series above stay what they were for every seed.
    roll = _unit(index, seed, 3)
    stated = "entry" if roll < 0.34 else "nilknown" if roll < 0.67 else "absent"
    return Book(allergies, _blood_type(rng), tuple(labs), stated if not allergies else "absent")
