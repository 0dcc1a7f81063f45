"""What every screen and widget of the kiosk needs to know: the words, the clock, the mode and who is signed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk.activity import Clock
from kiosk.i18n import Translator
from kiosk.settings import Mode
from lookup.domain.second_factor import SecondFactorLockouts


@dataclass(slots=True)
class SignedIn:
    """The staff member signed in at the kiosk, as the screens show them; only the app changes it."""

    staff_id: str | None = None
    offline: bool = False
    """Their PIN was checked on this kiosk while the server was down."""


@dataclass(slots=True)
class NetworkState:
    """Whether the server answered the app's last probe; only the app changes it, every screen's header shows it."""

    online: bool | None = None
    """None until the first probe has answered."""


@dataclass(frozen=True, slots=True)
class KioskContext:
    """Shared, read-only view of the app handed to screens, so none of them reaches for globals."""

    t: Translator
    clock: Clock
    mode: Mode
    staff: SignedIn = field(default_factory=SignedIn)
    network: NetworkState = field(default_factory=NetworkState)
    lockouts: SecondFactorLockouts = field(default_factory=SecondFactorLockouts)
    """The lobby's second-factor lockouts, for the life of the app."""

    @property
    def lobby(self) -> bool:
        return self.mode is Mode.LOBBY

    def today(self) -> dt.date:
        return self.clock().date()


def format_date(value: dt.date | None) -> str:
    """Dates as Vietnamese forms and cards write them."""
    return value.strftime("%d/%m/%Y") if value is not None else "—"


def format_age(t: Translator, seconds: float) -> str:
    """How old cached data is, in the largest unit that makes sense to a clerk."""
    if seconds < 90:
        return t("age.seconds", n=int(seconds))
    if seconds < 90 * 60:
        return t("age.minutes", n=round(seconds / 60))
    if seconds < 36 * 3600:
        return t("age.hours", n=round(seconds / 3600))
    return t("age.days", n=round(seconds / 86400))
