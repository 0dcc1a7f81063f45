"""Staff sign-in at the kiosk: against the server's staff identity when it answers, against a locally kept PIN hash
when it does not.

Online, the staff id and PIN go with the kiosk's client credentials to the token endpoint (`staff_id`,
`staff_pin`); the token then names the person, and so does every AuditEvent the server writes for it. After a
successful online sign-in the kiosk keeps, in its encrypted offline cache (`staff/{id}`, not clinical, living as
long as the cache's time-to-live), a salted scrypt hash of that PIN with the client and mode it was verified for.
When the server is down, the same person signs in with the same PIN against that record; someone never signed in
online on this kiosk (or not within the time-to-live) cannot sign in offline. An offline sign-in keeps the PIN in
memory so that the next token, once the server is back, names the person again: if the server then refuses it, the
person is signed out at once.

Wrong PINs are counted per staff id on the kiosk too (`PinAttempts`: five in a row lock that id for five minutes,
doubling), before anything is sent; the server keeps its own lockout, which answers 429 and is shown as such.
Every answer is a `SignInResult`; nothing here raises for a wrong PIN or a fault of the server, and no message
carries the PIN.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re

import orjson
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from lookup.domain.pins import UNKNOWN_PIN_HASH, PinAttempts, hash_pin, pin_matches
from lookup.domain.staff import SignInResult, SignInStatus, StaffMember
from lookup.service.cache_protocol import RecordCache
from lookup.transport.client import FhirClient
from lookup.transport.faults import FaultKind, FhirError

log = logging.getLogger(__name__)

STAFF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
"""What a staff id may look like (the server takes at most 64 characters); anything else is never sent."""
PIN_MAX = 32
WRONG_PIN = "unknown staff member or wrong PIN"


class StaffRecord(BaseModel):
    """What the offline cache keeps of one staff member: their PIN's salted hash and where the server accepted it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staff_id: str
    pin_hash: str
    client_id: str | None
    mode: str


def _key(staff_id: str) -> str:
    # As the server compares ids: exactly, so the person named offline is the one the server accepted.
    return f"staff/{staff_id}"


class StaffRecords:
    """The offline records of staff members in the (optional) cache. Hashing is slow on purpose: call from a thread."""

    def __init__(self, cache: RecordCache | None, client_id: str | None, mode: str) -> None:
        self._cache = cache
        self._client_id = client_id
        self._mode = mode

    def keep(self, staff_id: str, pin: str) -> bool:
        """Keep (or renew) the record of a person the server has just signed in; whether it was written."""
        if self._cache is None:
            return False
        record = StaffRecord(staff_id=staff_id, pin_hash=hash_pin(pin), client_id=self._client_id, mode=self._mode)
        try:
            self._cache.put(_key(staff_id), orjson.dumps(record.model_dump()), clinical=False)
        except Exception as exc:
            log.warning("could not keep the staff member's offline record (%s)", type(exc).__name__)
            return False
        return True

    def check(self, staff_id: str, pin: str) -> bool | None:
        """Whether `pin` is this person's, as the server last accepted it on this kiosk (same client and mode);
        None when there is no such record."""
        if self._cache is None:
            return None
        try:
            found = self._cache.get(_key(staff_id))
            record = StaffRecord.model_validate(orjson.loads(found.payload)) if found is not None else None
        except (ValidationError, orjson.JSONDecodeError):
            log.warning("a staff member's offline record could not be read; ignored")
            return None
        except Exception as exc:
            log.warning("could not read the offline cache (%s)", type(exc).__name__)
            return None
        if record is None or (record.client_id, record.mode) != (self._client_id, self._mode):
            pin_matches(pin, UNKNOWN_PIN_HASH)  # as long as a check, so the time does not tell who signed in here
            return None
        return pin_matches(pin, record.pin_hash)


def _wait(seconds: float) -> str:
    return f"{math.ceil(seconds)} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


class StaffDesk:
    """Who is signed in at this kiosk, and the one way in: `sign_in`, checked by the server or, offline, locally."""

    def __init__(self, client: FhirClient, records: StaffRecords, attempts: PinAttempts | None = None) -> None:
        self._client = client
        self._records = records
        self.attempts = attempts or PinAttempts()
        self._current: StaffMember | None = None

    @property
    def current(self) -> StaffMember | None:
        """The person signed in; None once the server refused their PIN on a later token request."""
        if self._current is not None and self._client.staff_id != self._current.staff_id:
            log.info("the server no longer accepts the signed-in staff member; signed out")
            self._current = None
        return self._current

    async def sign_out(self) -> None:
        self._current = None
        await self._client.sign_out_staff()

    async def sign_in(self, staff_id: str, pin: str) -> SignInResult:
        """Sign a person in (whoever was signed in is signed out first)."""
        await self.sign_out()
        staff_id = staff_id.strip()
        if not STAFF_ID.fullmatch(staff_id) or not 0 < len(pin) <= PIN_MAX:
            return SignInResult(status=SignInStatus.WRONG_PIN, message=WRONG_PIN)
        wait = self.attempts.locked_for(staff_id)
        if wait > 0:
            return self._locked(wait)
        if not self._client.has_credentials:
            message = "this kiosk has no client credentials, so the server cannot sign staff in"
            return SignInResult(status=SignInStatus.UNAVAILABLE, message=message)
        secret = SecretStr(pin)
        try:
            named = await self._client.sign_in_staff(staff_id, secret)
        except FhirError as exc:
            return await self._refused(staff_id, secret, exc)
        if not named:
            message = "the server has no token endpoint, so staff cannot sign in there"
            return SignInResult(status=SignInStatus.UNAVAILABLE, message=message)
        self.attempts.succeeded(staff_id)
        await asyncio.to_thread(self._records.keep, staff_id, pin)
        self._current = StaffMember(staff_id=staff_id, verified="server")
        return SignInResult(status=SignInStatus.SIGNED_IN, staff=self._current)

    async def _refused(self, staff_id: str, pin: SecretStr, exc: FhirError) -> SignInResult:
        if exc.kind is FaultKind.UNAUTHORIZED and exc.status == 400:
            return self._wrong_pin(staff_id)
        if exc.kind is FaultKind.RATE_LIMITED and exc.status == 429:
            after = exc.retry_after
            wait = f"; try again in {_wait(after)}" if after is not None else ""
            message = f"the server refuses sign-ins from this kiosk for now (too many wrong PINs){wait}"
            return SignInResult(status=SignInStatus.RATE_LIMITED, message=message, retry_after_s=after)
        if exc.offline:
            return await self._offline(staff_id, pin, exc)
        message = "the server refused this kiosk's client credentials" if exc.kind is FaultKind.UNAUTHORIZED else ""
        return SignInResult(status=SignInStatus.UNAVAILABLE, message=message or exc.describe())

    async def _offline(self, staff_id: str, pin: SecretStr, exc: FhirError) -> SignInResult:
        known = await asyncio.to_thread(self._records.check, staff_id, pin.get_secret_value())
        if known is None:
            message = f"{exc.describe()}; this staff member has not signed in online on this kiosk recently"
            return SignInResult(status=SignInStatus.OFFLINE, message=message)
        if not known:
            return self._wrong_pin(staff_id)
        self.attempts.succeeded(staff_id)
        # The PIN goes with the next token request once the server is back, so its audit names the person again.
        await self._client.sign_in_staff(staff_id, pin, verify=False)
        self._current = StaffMember(staff_id=staff_id, verified="offline")
        message = "signed in offline: the PIN was checked on this kiosk"
        return SignInResult(status=SignInStatus.SIGNED_IN, staff=self._current, message=message)

    def _wrong_pin(self, staff_id: str) -> SignInResult:
        lock = self.attempts.failed(staff_id)
        if lock > 0:
            return self._locked(lock)
        left = self.attempts.left(staff_id)
        return SignInResult(status=SignInStatus.WRONG_PIN, message=WRONG_PIN, tries_left=left)

    @staticmethod
    def _locked(seconds: float) -> SignInResult:
        message = f"too many wrong PINs for this staff member; try again in {_wait(seconds)}"
        return SignInResult(status=SignInStatus.LOCKED, message=message, retry_after_s=seconds)
