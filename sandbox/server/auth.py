"""Who is calling: OAuth2 client credentials, optionally with the staff member at the kiosk, and the tokens issued.

Every client is registered with a role (`lobby`, `reception`, `er`, `admin`) and, for reception desks, the facility
it works for; what a role may do is decided by `sandbox.server.policy`, never here. A token request may also name a
staff member (`staff_id` and `staff_pin` form fields): the token then stands for that person at that kiosk, and
every AuditEvent the server writes names both. A staff member may sign in only on a kiosk whose role is one of
theirs. PINs are kept as salted scrypt hashes and compared in constant time; an unknown staff id costs the same
hash as a wrong PIN, so the answer's timing does not tell which ids exist.

Scopes are SMART system scopes (`system/Patient.read`, ...). A client is granted the scopes its role's policy
needs (`policy.role_scopes`), or, when it asks for fewer (`scope`, wildcards `system/*.read`, `system/*.write` and
`system/*.*` allowed), those; it never gets more.

The token endpoint answers errors as RFC 6749 says (`{"error": "invalid_client"}`), since OAuth clients read that
shape; every FHIR endpoint answers errors as OperationOutcome.

Demo clients (`--demo-clients`, demos and tests only; each client's secret is its name): `demo-er` (er),
`demo-reception` (reception at facility 01929, Bệnh viện Bạch Mai), `demo-lobby` (lobby), `demo-admin` (admin).
Demo staff, registered with them: `nurse-lan` PIN 246810 and `doctor-minh` PIN 135791 (er), `clerk-hoa` PIN
112358 (reception and lobby), `auditor-an` PIN 314159 (admin).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# The one PIN hash, shared with the kiosk's offline sign-in (re-exported: the server's PINs are hashed by it).
from lookup.domain.pins import UNKNOWN_PIN_HASH
from lookup.domain.pins import hash_pin as hash_pin
from lookup.domain.pins import pin_matches as pin_matches


class Role(StrEnum):
    """What a client is for; the policy says what each role may read and write."""

    LOBBY = "lobby"
    RECEPTION = "reception"
    ER = "er"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client: its secret, its role and (for a reception desk) the facility it works for."""

    client_id: str
    secret: str
    role: Role
    facility: str | None = None


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person who may sign in at a kiosk, with the roles they may act in and their PIN's salted hash."""

    staff_id: str
    name: str
    roles: frozenset[Role]
    pin_hash: str


@dataclass(frozen=True, slots=True)
class Grant:
    """What a bearer token stands for: the client, its role, the staff member at the kiosk (None for a kiosk-only
    token), the facility of a reception desk, and the scopes granted."""

    client_id: str
    role: Role
    staff: StaffMember | None
    facility: str | None
    scopes: frozenset[str]
    expires_at: float

    @property
    def staff_id(self) -> str | None:
        return self.staff.staff_id if self.staff is not None else None


class TokenError(Exception):
    """A refused token request, with its RFC 6749 error code and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


_UNKNOWN_STAFF_HASH: Final = UNKNOWN_PIN_HASH
"""Checked against when the staff id is unknown, so that answer takes as long as a wrong PIN."""

DEMO_CLIENTS: Final[dict[str, tuple[Role, str | None]]] = {
    "demo-er": (Role.ER, None),
    "demo-reception": (Role.RECEPTION, "01929"),
    "demo-lobby": (Role.LOBBY, None),
    "demo-admin": (Role.ADMIN, None),
}
"""Demo clients: name (also the secret) -> role and facility."""

DEMO_STAFF: Final[tuple[StaffMember, ...]] = (
    StaffMember(
        "nurse-lan",
        "Điều dưỡng Nguyễn Thị Lan",
        frozenset({Role.ER}),
        "scrypt$16384$8$1$hoR/UzlmUARlgSIPcYwGMg==$jfIkdEAllgmu/7XgRdqYWkSE8C/bAuQ73XfbSTRKOaQ=",
    ),
    StaffMember(
        "doctor-minh",
        "Bác sĩ Trần Văn Minh",
        frozenset({Role.ER}),
        "scrypt$16384$8$1$yRhmLW9jgQ3zoiG6UkOsqQ==$pW0egIu5dp/d9cIi+3pcOotOBpwcSBwoDvJhloPTGl8=",
    ),
    StaffMember(
        "clerk-hoa",
        "Lê Thị Hoa (tiếp đón)",
        frozenset({Role.RECEPTION, Role.LOBBY}),
        "scrypt$16384$8$1$ogmflQ7rsknrPapSSSuLVA==$9tPkcCTb1RR9LFP2gIyKXmBtbhKFlSPqv2U8juSLHZk=",
    ),
    StaffMember(
        "auditor-an",
        "Phạm Văn An (kiểm tra)",
        frozenset({Role.ADMIN}),
        "scrypt$16384$8$1$oo+pOGVx29nb1hplMiTwPg==$4m5gsHoMEFsZ/dH2VVLYmRvuMsDSX1X96yXzxMO84fI=",
    ),
)
"""Demo staff accounts; their PINs are in this module's docstring (demos and tests only)."""

_WILDCARDS: Final = {"system/*.read": (".read",), "system/*.write": (".write",), "system/*.*": (".read", ".write")}


class Authority:
    """The registered clients and staff, and the tokens issued to them (in memory: a restart logs everyone out)."""

    def __init__(
        self,
        clients: Iterable[Client],
        lifetime_s: int,
        *,
        role_scopes: Mapping[Role, frozenset[str]],
        staff: Iterable[StaffMember] = (),
    ) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._staff = {s.staff_id: s for s in staff}
        self._role_scopes = dict(role_scopes)
        self._lifetime = lifetime_s
        self._tokens: dict[str, Grant] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_demo_clients(cls, lifetime_s: int, role_scopes: Mapping[Role, frozenset[str]]) -> Authority:
        clients = [Client(name, name, role, facility) for name, (role, facility) in DEMO_CLIENTS.items()]
        return cls(clients, lifetime_s, role_scopes=role_scopes, staff=DEMO_STAFF)

    def issue(
        self,
        client_id: str,
        secret: str,
        requested: str | None,
        *,
        staff_id: str | None = None,
        staff_pin: str | None = None,
    ) -> tuple[str, Grant]:
        """A new token for the client (and the staff member, when named); TokenError on any wrong credential."""
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise TokenError("invalid_client", "unknown client or wrong secret", 401)
        staff = self._staff_member(client, staff_id, staff_pin)
        allowed = self._role_scopes.get(client.role, frozenset())
        scopes = self._narrowed(allowed, requested)
        token = secrets.token_urlsafe(32)
        grant = Grant(client.client_id, client.role, staff, client.facility, scopes, time.monotonic() + self._lifetime)
        with self._lock:
            self._drop_expired()
            self._tokens[token] = grant
        return token, grant

    def _staff_member(self, client: Client, staff_id: str | None, staff_pin: str | None) -> StaffMember | None:
        if not staff_id and not staff_pin:
            return None
        if not staff_id or not staff_pin:
            raise TokenError("invalid_request", "staff_id and staff_pin go together")
        member = self._staff.get(staff_id)
        matched = pin_matches(staff_pin, member.pin_hash if member is not None else _UNKNOWN_STAFF_HASH)
        if member is None or not matched:
            raise TokenError("invalid_grant", "unknown staff member or wrong PIN")
        if client.role not in member.roles:
            raise TokenError("invalid_grant", f"this staff member may not sign in on a {client.role.value} kiosk")
        return member

    @staticmethod
    def _narrowed(allowed: frozenset[str], requested: str | None) -> frozenset[str]:
        if not requested or not requested.strip():
            return allowed
        asked: set[str] = set()
        for word in requested.split():
            endings = _WILDCARDS.get(word)
            if endings is not None:
                asked.update(s for s in allowed if s.endswith(endings))
            elif word in allowed:
                asked.add(word)
        if not asked:
            raise TokenError("invalid_scope", "none of the requested scopes may be granted to this client")
        return frozenset(asked)

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
