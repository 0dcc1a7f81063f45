"""The lobby's second factor: before the kiosk acts on someone's behalf (a check-in, a walk-in), the person who
scanned a card or typed a code answers something the card does not carry: the last four digits of the phone on the
record, or the birth date (day, month and year as eight digits) when the record has no phone.

The comparison is all here, a pure function of the record and the answer, so the screen that asks holds no rule.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from lookup.domain.model import Demographics

MAX_ATTEMPTS: Final = 3
"""Wrong answers after which the lobby gives up on the person and starts over."""


class SecondFactor(StrEnum):
    """What the kiosk asks for."""

    PHONE_LAST4 = "phone-last4"
    BIRTH_DATE = "birth-date"


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def second_factor(who: Demographics) -> SecondFactor | None:
    """What to ask of `who`: the phone's last four digits when the record has a phone, else the birth date when the
    record has the whole date, else None (nothing to ask: the person is sent to reception)."""
    if who.phone is not None and len(_digits(who.phone)) >= 4:
        return SecondFactor.PHONE_LAST4
    if who.birth_date is not None:
        return SecondFactor.BIRTH_DATE
    return None


def expected_answer(who: Demographics, factor: SecondFactor) -> str | None:
    """The digits a right answer has, or None when the record lacks what `factor` asks for."""
    if factor is SecondFactor.PHONE_LAST4:
        digits = _digits(who.phone or "")
        return digits[-4:] if len(digits) >= 4 else None
    if who.birth_date is None:
        return None
    return who.birth_date.strftime("%d%m%Y")


def answer_agrees(who: Demographics, factor: SecondFactor, answer: str) -> bool:
    """Whether `answer` (as typed: separators such as `/`, `.`, `-` and spaces are ignored) agrees with the record.

    A birth date is read day first, as eight digits (`15031987`); a record without the asked field agrees with no
    answer. The digits are compared in constant time, so the time taken says nothing of how much was right."""
    expected = expected_answer(who, factor)
    if expected is None:
        return False
    given = answer.strip()
    if any(not (c.isdigit() or c in " ./-") for c in given):
        return False
    return hmac.compare_digest(_digits(given).encode(), expected.encode())


LOCKOUT_SESSIONS: Final = 2
"""Sessions ended by wrong answers after which the lobby stops asking about that person for a while: scanning the
card again must not buy three more guesses."""
LOCKOUT_SECONDS: Final = 15 * 60


@dataclass
class SecondFactorLockouts:
    """Failed second-factor sessions per patient at one kiosk, kept in memory for `LOCKOUT_SECONDS`; the lobby asks
    nothing more about a person locked out, and sends them to reception."""

    sessions: int = LOCKOUT_SESSIONS
    seconds: float = LOCKOUT_SECONDS
    _failed: dict[str, list[float]] = field(default_factory=dict)

    def failed(self, patient_id: str, now: float) -> None:
        """Record a session ended by wrong answers."""
        self._failed[patient_id] = [*self._recent(patient_id, now), now]

    def locked(self, patient_id: str, now: float) -> bool:
        return len(self._recent(patient_id, now)) >= self.sessions

    def _recent(self, patient_id: str, now: float) -> list[float]:
        return [at for at in self._failed.get(patient_id, []) if now - at < self.seconds]
