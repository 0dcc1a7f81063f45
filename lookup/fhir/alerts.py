"""Drug-allergy conflicts: an allergy whose substance, or whose drug class, a prescribed or current drug belongs to.

No maintained drug terminology is usable offline from Python, so the classes are a documented table shipped as data
(`drug_allergy_classes.json` beside this module, with its sources: WHO ATC classes and published cross-reactivity).
A drug is matched by its folded name (words, no accents) or by an ATC code prefix; an allergy by its folded name or
its SNOMED CT code. A drug that is the allergen itself conflicts even when no class names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from lookup.domain.model import Alert, SummaryItem
from lookup.domain.text import fold

CLASSES_FILE: Final = Path(__file__).with_name("drug_allergy_classes.json")
_MIN_SUBSTANCE = 4
"""An allergen word shorter than this (`b`, `ca`) is too vague to match a drug by name."""


class DrugClass(BaseModel):
    """One row of the table: who is allergic to it, which drugs belong to it, which classes cross-react."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    allergens: tuple[str, ...]
    allergen_codes: tuple[str, ...] = ()
    drugs: tuple[str, ...]
    atc: tuple[str, ...] = ()
    partial: tuple[str, ...] = ()


class ClassTable(BaseModel):
    """The whole data file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    about: str
    sources: tuple[str, ...]
    classes: tuple[DrugClass, ...]


@cache
def drug_classes() -> ClassTable:
    return ClassTable.model_validate(json.loads(CLASSES_FILE.read_text(encoding="utf-8")))


def _has_phrase(text: str, phrase: str) -> bool:
    return f" {fold(phrase)} " in f" {text} "


def _allergy_classes(allergy: SummaryItem, table: ClassTable) -> list[DrugClass]:
    text = fold(allergy.text)
    return [
        c
        for c in table.classes
        if (allergy.code and allergy.code in c.allergen_codes) or any(_has_phrase(text, a) for a in c.allergens)
    ]


def _drug_in(drug: SummaryItem, klass: DrugClass) -> bool:
    if drug.code and any(drug.code.upper().startswith(prefix) for prefix in klass.atc):
        return True
    text = fold(drug.text)
    return any(_has_phrase(text, name) for name in klass.drugs)


@dataclass(frozen=True, slots=True)
class _Conflict:
    allergy: str
    drug: str
    klass: str
    partial: bool


def _conflict(allergy: SummaryItem, drug: SummaryItem, table: ClassTable) -> _Conflict | None:
    substance = fold(allergy.text)
    if len(substance) >= _MIN_SUBSTANCE and _has_phrase(fold(drug.text), substance):
        return _Conflict(allergy.text, drug.text, "", partial=False)
    classes = _allergy_classes(allergy, table)
    for klass in classes:
        if _drug_in(drug, klass):
            return _Conflict(allergy.text, drug.text, klass.name, partial=False)
    by_name = {c.name: c for c in table.classes}
    for klass in classes:
        for other in (by_name[n] for n in klass.partial if n in by_name):
            if _drug_in(drug, other):
                return _Conflict(allergy.text, drug.text, other.name, partial=True)
    return None


def drug_allergy_alerts(allergies: Sequence[SummaryItem], drugs: Iterable[SummaryItem]) -> tuple[Alert, ...]:
    """One alert per (allergy, drug) that conflict, in the order the drugs come (each drug named once)."""
    table = drug_classes()
    alerts: list[Alert] = []
    seen: set[tuple[str, str]] = set()
    for drug in drugs:
        for allergy in allergies:
            found = _conflict(allergy, drug, table)
            key = (fold(allergy.text), fold(drug.text))
            if found is None or key in seen:
                continue
            seen.add(key)
            how = f" ({found.klass}{', partial cross-reactivity' if found.partial else ''})" if found.klass else ""
            alerts.append(
                Alert(
                    kind="drug-allergy",
                    text=f"allergy to {found.allergy}{how}; prescribed {found.drug}",
                    allergy=found.allergy,
                    drug=found.drug,
                    drug_class=found.klass,
                )
            )
    return tuple(alerts)
