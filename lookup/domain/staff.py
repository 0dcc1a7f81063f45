"""Who is at the kiosk: the staff member signed in, and how a sign-in ended. No PIN is ever part of these."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class SignInStatus(StrEnum):
    """How a sign-in ended."""

    SIGNED_IN = "signed-in"
    WRONG_PIN = "wrong-pin"
    """Unknown staff member, wrong PIN, or a person who may not sign in on a kiosk of this role."""
    LOCKED = "locked"
    """Too many wrong PINs for this staff id on this kiosk: no PIN is checked until the lock runs out."""
    RATE_LIMITED = "rate-limited"
    """The server refuses sign-ins from this kiosk for a while (its own lockout or rate limit)."""
    OFFLINE = "offline"
    """The server cannot be reached and this person cannot be checked here (never signed in online on this kiosk)."""
    UNAVAILABLE = "unavailable"
    """Staff cannot sign in through this kiosk at all (no client credentials, or a server without staff sign-in)."""


class StaffMember(BaseModel):
    """The person signed in at the kiosk, and who checked their PIN: the server, or this kiosk while it was down."""

    model_config = ConfigDict(frozen=True)

    staff_id: str
    verified: Literal["server", "offline"]


class SignInResult(BaseModel):
    """The answer to a sign-in: who is signed in now, or why nobody is, in one sentence."""

    model_config = ConfigDict(frozen=True)

    status: SignInStatus
    staff: StaffMember | None = None
    message: str = ""
    retry_after_s: float | None = None
    """For `locked` and `rate-limited`: how long until the next try is checked."""
    tries_left: int | None = None
    """For `wrong-pin`: wrong PINs left before this staff id is locked on this kiosk."""
