"""Per-field explanations a clerk can read: "given agrees, birth_date day and month swapped, province differs"."""

from __future__ import annotations

from typing import Final, Literal

from lookup.domain.model import FieldAgreement
from lookup.matching.weights import BirthLevel, FlagLevel, NameLevel

Level = Literal["agrees", "close", "differs", "missing"]

_NAME: Final[dict[int, tuple[Level, str]]] = {
    NameLevel.MISSING: ("missing", ""),
    NameLevel.EXACT: ("agrees", ""),
    NameLevel.ACCENT: ("close", "accents differ"),
    NameLevel.CLOSE: ("close", "spelling close"),
    NameLevel.DIFFERS: ("differs", ""),
}
_FAMILY_ACCENT: Final[tuple[Level, str]] = ("close", "regional variant or accents differ")
_BIRTH: Final[dict[int, tuple[str, Level, str]]] = {
    BirthLevel.MISSING: ("birth_year", "missing", ""),
    BirthLevel.EXACT: ("birth_date", "agrees", ""),
    BirthLevel.SWAPPED: ("birth_date", "close", "day and month swapped"),
    BirthLevel.YEAR: ("birth_year", "agrees", "year only"),
    BirthLevel.YEAR_PARTIAL: ("birth_date", "close", "same year, day or month differs"),
    BirthLevel.YEAR_ONLY: ("birth_date", "differs", "same year, day and month differ"),
    BirthLevel.NEAR: ("birth_year", "close", "year one apart"),
    BirthLevel.DIFFERS: ("birth_date", "differs", ""),
}
_FLAG: Final[dict[int, Level]] = {
    FlagLevel.MISSING: "missing",
    FlagLevel.AGREES: "agrees",
    FlagLevel.DIFFERS: "differs",
}
_FLAG_FIELDS: Final = ("sex", "province", "phone")
_ADDRESS: Final[dict[int, Level]] = {0: "missing", 1: "agrees", 2: "close", 3: "close", 4: "differs"}


def agreements(levels: dict[str, int], bits: dict[str, float], asked: set[str]) -> tuple[FieldAgreement, ...]:
    """The explanation of one candidate, for the fields the query gave (`asked`)."""
    out: list[FieldAgreement] = []
    for name in ("given", "family", "middle"):
        if name not in asked:
            continue
        level, note = _NAME[levels[name]]
        if name == "family" and levels[name] == NameLevel.ACCENT:
            level, note = _FAMILY_ACCENT
        out.append(FieldAgreement(field=name, level=level, note=note, weight=round(bits[name], 3)))
    if "birth" in asked:
        field, level, note = _BIRTH[levels["birth"]]
        out.append(FieldAgreement(field=field, level=level, note=note, weight=round(bits["birth"], 3)))
    for name in _FLAG_FIELDS:
        if name in asked:
            level = _FLAG[levels[name]]
            out.append(FieldAgreement(field=name, level=level, weight=round(bits[name], 3)))
    if "address" in asked:
        level = _ADDRESS[levels["address"]]
        out.append(FieldAgreement(field="address", level=level, weight=round(bits["address"], 3)))
    return tuple(out)
