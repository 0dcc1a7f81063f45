"""Staff PINs kept as salted scrypt hashes, and the count of wrong PINs that locks a staff member out for a while.

One hashing rule for everyone who keeps a PIN: the reference server's staff list, the kiosk's offline record of a
staff member who signed in online (so the same PIN is checked when the server is down), and the lobby's admin PIN
in the settings. A hash reads `scrypt$N$r$p$salt$digest` (salt and digest base64); a PIN itself is never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# scrypt at N=2**14, r=8: about 60 ms and 16 MiB per check on one core, so a PIN cannot be tried quickly even from
# a stolen hash (PINs are short; the lockout is what stops guessing at the kiosk or the server).
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_MAX_MEMORY: Final = 32 * 1024 * 1024
"""The most memory (128·r·N bytes) a stored hash may ask for: a hash from a settings file must not make a check
take minutes or fail for want of memory."""


UNKNOWN_PIN_HASH: Final = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
"""Checked against when nobody with that id is known, so that answer takes as long as a wrong PIN and the time it
takes does not tell which ids exist."""


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64) of a PIN, with a fresh random salt unless one is given."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def is_pin_hash(stored: str) -> bool:
    """Whether `stored` has the shape `hash_pin` writes, with a cost a kiosk can afford to check."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        cost = int(n), int(r), int(p)
        parts = base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except (ValueError, binascii.Error):
        return False
    power_of_two = cost[0] > 1 and cost[0] & (cost[0] - 1) == 0
    return (
        scheme == "scrypt"
        and power_of_two
        and 128 * cost[0] * cost[1] <= _MAX_MEMORY
        and 0 < cost[1] <= 32
        and 0 < cost[2] <= 4
        and all(len(part) >= 16 for part in parts)
    )


def pin_matches(pin: str, stored: str) -> bool:
    """Whether `pin` hashes to `stored`; compared in constant time. A malformed stored hash never matches."""
    if not is_pin_hash(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    expected = base64.b64decode(digest, validate=True)
    try:
        derived = hashlib.scrypt(
            pin.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2 * _MAX_MEMORY,
            dklen=len(expected),
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(derived, expected)


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locks: int = 0
    locked_until: float = 0.0


class PinAttempts:
    """Consecutive wrong PINs per person (or per lock, such as the lobby's admin PIN), and the locks they earn.

    After `limit` wrong PINs in a row the name is locked for `lock_s`, doubling with each lock after that up to
    `longest_s`; while locked no PIN is checked at all, the right one included. A right PIN clears the count.
    Names are compared without case, as staff ids are typed by hand.
    """

    def __init__(
        self,
        limit: int = 5,
        lock_s: float = 300.0,
        longest_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.lock_s = lock_s
        self.longest_s = longest_s
        self._clock = clock
        self._failures: dict[str, _Failures] = {}

    def locked_for(self, name: str) -> float:
        """Seconds until `name` may try again; 0 when it may now."""
        entry = self._failures.get(name.casefold())
        return max(0.0, entry.locked_until - self._clock()) if entry is not None else 0.0

    def failed(self, name: str) -> float:
        """Count a wrong PIN; the seconds of the lock it earned (0 when none yet)."""
        entry = self._failures.setdefault(name.casefold(), _Failures())
        entry.count += 1
        if entry.count < self.limit:
            return 0.0
        seconds: float = min(self.lock_s * float(2**entry.locks), self.longest_s)
        entry.count, entry.locks, entry.locked_until = 0, entry.locks + 1, self._clock() + seconds
        return seconds

    def succeeded(self, name: str) -> None:
        self._failures.pop(name.casefold(), None)

    def left(self, name: str) -> int:
        """Wrong PINs `name` may still give before the next lock."""
        entry = self._failures.get(name.casefold())
        return self.limit - (entry.count if entry is not None else 0)
