"""Per-field explanations: "given agrees, birth_date day and month swapped, province differs".

Each note has a stable code (`swapped`, `year-only`, ...) that screens translate; the English note stays for logs
and `kiosk lookup --json`. No screen words live here.
"""

from __future__ import annotations

from typing import Final, Literal

from lookup.domain.model import FieldAgreement
from lookup.matching.weights import BirthLevel, FlagLevel, NameLevel

Level = Literal["agrees", "close", "differs", "missing"]

NOTES: Final[dict[str, str]] = {
    "accents": "accents differ",
    "spelling": "spelling close",
    "regional": "regional variant or accents differ",
    "swapped": "day and month swapped",
    "year-only": "year only",
    "year-partial": "same year, day or month differs",
    "year-same": "same year, day and month differ",
    "year-near": "year one apart",
}
"""Every note code and its English sentence; the kiosk's catalogues hold `match.<code>` for each code."""

_NAME: Final[dict[int, tuple[Level, str]]] = {
    NameLevel.MISSING: ("missing", ""),
    NameLevel.EXACT: ("agrees", ""),
    NameLevel.ACCENT: ("close", "accents"),
    NameLevel.CLOSE: ("close", "spelling"),
    NameLevel.DIFFERS: ("differs", ""),
}
_FAMILY_ACCENT: Final[tuple[Level, str]] = ("close", "regional")
_BIRTH: Final[dict[int, tuple[str, Level, str]]] = {
    BirthLevel.MISSING: ("birth_year", "missing", ""),
    BirthLevel.EXACT: ("birth_date", "agrees", ""),
    BirthLevel.SWAPPED: ("birth_date", "close", "swapped"),
    BirthLevel.YEAR: ("birth_year", "agrees", "year-only"),
    BirthLevel.YEAR_PARTIAL: ("birth_date", "close", "year-partial"),
    BirthLevel.YEAR_ONLY: ("birth_date", "differs", "year-same"),
    BirthLevel.NEAR: ("birth_year", "close", "year-near"),
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
        level, code = _NAME[levels[name]]
        if name == "family" and levels[name] == NameLevel.ACCENT:
            level, code = _FAMILY_ACCENT
        out.append(_agreement(name, level, code, bits[name]))
    if "birth" in asked:
        field, level, code = _BIRTH[levels["birth"]]
        out.append(_agreement(field, level, code, bits["birth"]))
    for name in _FLAG_FIELDS:
        if name in asked:
            level = _FLAG[levels[name]]
            out.append(FieldAgreement(field=name, level=level, weight=round(bits[name], 3)))
    if "address" in asked:
        level = _ADDRESS[levels["address"]]
        out.append(FieldAgreement(field="address", level=level, weight=round(bits["address"], 3)))
    return tuple(out)


def _agreement(field: str, level: Level, code: str, bits: float) -> FieldAgreement:
    return FieldAgreement.model_validate(
        {"field": field, "level": level, "code": code, "note": NOTES.get(code, ""), "weight": round(bits, 3)}
    )
