"""OAuth2 client credentials and SMART-style system scopes, enforced by the server on every request.

Scopes: `system/Patient.read` (identify: search, `$match`, read a Patient), `system/Appointment.read` and
`system/Appointment.write` (today's appointments and check-in), `system/AuditEvent.write` (the kiosk's own audit),
and `system/*.read` (everything clinical: summaries, documents, referrals, consents, audit trails). The lobby
client is granted only the first four; ER and reception clients everything. A client may ask for fewer scopes than
it is allowed; it never gets more.

The token endpoint answers errors as RFC 6749 says (`{"error": "invalid_client"}`), since OAuth clients read that
shape; every FHIR endpoint answers errors as OperationOutcome.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Scope(StrEnum):
    """The scopes this server grants."""

    PATIENT_READ = "system/Patient.read"
    APPOINTMENT_READ = "system/Appointment.read"
    APPOINTMENT_WRITE = "system/Appointment.write"
    AUDIT_WRITE = "system/AuditEvent.write"
    ALL_READ = "system/*.read"


LOBBY_SCOPES: Final = frozenset(
    {Scope.PATIENT_READ, Scope.APPOINTMENT_READ, Scope.APPOINTMENT_WRITE, Scope.AUDIT_WRITE}
)
CLINICAL_SCOPES: Final = frozenset(Scope)
DEMO_CLIENTS: Final[dict[str, frozenset[Scope]]] = {
    "demo-er": CLINICAL_SCOPES,
    "demo-reception": CLINICAL_SCOPES,
    "demo-lobby": LOBBY_SCOPES,
}


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client and the scopes it may be granted."""

    client_id: str
    secret: str
    allowed: frozenset[Scope]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a bearer token stands for."""

    client_id: str
    scopes: frozenset[Scope]
    expires_at: float

    def allows(self, needed: Scope) -> bool:
        if needed in self.scopes:
            return True
        return needed.value.endswith(".read") and Scope.ALL_READ in self.scopes


class TokenError(Exception):
    """A refused token request, with its RFC 6749 error code and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Authority:
    """The registered clients and the tokens issued to them (in memory: a restart logs everyone out)."""

    def __init__(self, clients: list[Client], lifetime_s: int) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._lifetime = lifetime_s
        self._tokens: dict[str, Grant] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_demo_clients(cls, lifetime_s: int) -> Authority:
        return cls([Client(name, name, scopes) for name, scopes in DEMO_CLIENTS.items()], lifetime_s)

    def issue(self, client_id: str, secret: str, requested: str | None) -> tuple[str, Grant]:
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise TokenError("invalid_client", "unknown client or wrong secret", 401)
        if requested and requested.strip():
            asked: set[Scope] = set()
            for word in requested.split():
                try:
                    asked.add(Scope(word))
                except ValueError:
                    continue
            scopes = frozenset(asked) & client.allowed
            if not scopes:
                raise TokenError("invalid_scope", "none of the requested scopes may be granted to this client")
        else:
            scopes = client.allowed
        token = secrets.token_urlsafe(32)
        grant = Grant(client.client_id, scopes, time.monotonic() + self._lifetime)
        with self._lock:
            self._drop_expired()
            self._tokens[token] = grant
        return token, grant

    @property
    def lifetime_s(self) -> int:
        return self._lifetime

    def grant(self, token: str) -> Grant | None:
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None or grant.expires_at <= time.monotonic():
            return None
        return grant

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, g in self._tokens.items() if g.expires_at <= now]:
            del self._tokens[token]
