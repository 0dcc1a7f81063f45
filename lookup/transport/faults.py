"""The ways a FHIR server can fail a request, as one exception type the lookup service turns into outcomes.

Each kind has its own plain sentence, so the clerk (and a test) can tell a dead server from a busy one, a hanging one
from one that sent half an answer. No text here ever carries patient data: only status codes, durations and kinds.
"""

from __future__ import annotations

from enum import StrEnum


class FaultKind(StrEnum):
    """Why a request failed."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    CIRCUIT_OPEN = "circuit-open"
    SERVER_ERROR = "server-error"
    RATE_LIMITED = "rate-limited"
    TRUNCATED = "truncated"
    INVALID_JSON = "invalid-json"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    CONSENT_REQUIRED = "consent-required"
    NOT_FOUND = "not-found"
    NOT_SUPPORTED = "not-supported"
    BAD_REQUEST = "bad-request"
    FOREIGN_ORIGIN = "foreign-origin"
    """The server named an address on another origin for something only it may receive; nothing was sent."""
    REDIRECTED = "redirected"
    """The server answered with a redirect, which the kiosk never follows with its credentials."""


OFFLINE_KINDS = frozenset(
    {
        FaultKind.UNREACHABLE,
        FaultKind.TIMEOUT,
        FaultKind.CIRCUIT_OPEN,
        FaultKind.SERVER_ERROR,
        FaultKind.RATE_LIMITED,
        FaultKind.TRUNCATED,
        FaultKind.INVALID_JSON,
    }
)
"""Faults after which the server cannot give an answer now, so the cache is asked instead."""

RETRYABLE_KINDS = frozenset({FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED, FaultKind.TRUNCATED})
"""Faults worth one more try of an idempotent call. A timeout is not (the server already cost its whole budget),
nor a refused connection (the server is down: the circuit opens and the cache answers)."""


_SENTENCES: dict[FaultKind, str] = {
    FaultKind.UNREACHABLE: "the server cannot be reached (connection refused or reset)",
    FaultKind.CIRCUIT_OPEN: "the server failed moments ago; not asked again until it recovers",
    FaultKind.TRUNCATED: "the server's answer was cut short (incomplete JSON)",
    FaultKind.INVALID_JSON: "the server's answer is not valid FHIR JSON",
    FaultKind.UNAUTHORIZED: "the server refused the kiosk's credentials",
    FaultKind.FORBIDDEN: "the server does not allow this kiosk to read that",
    FaultKind.CONSENT_REQUIRED: "the patient has not consented to sharing these records",
    FaultKind.NOT_FOUND: "the server has no such resource",
    FaultKind.NOT_SUPPORTED: "the server does not support this operation",
}
"""The sentence of each fault that has nothing more to say than its kind."""

FOREIGN_TOKEN_URL = "the server's metadata names a token endpoint on another host; credentials were not sent"
FOREIGN_LINK = "the server's answer links to an address outside its own base URL; the kiosk's token was not sent there"
REFUSED_KINDS = frozenset({FaultKind.FOREIGN_ORIGIN, FaultKind.REDIRECTED})
"""Faults of a server that tried to send the kiosk's credentials elsewhere: the lookup stops and says so; neither
the cache nor a smaller answer stands in for it, since the server itself is not to be trusted with this call."""


_OPENINGS: dict[FaultKind, str] = {
    FaultKind.TIMEOUT: "the server did not answer",
    FaultKind.SERVER_ERROR: "the server failed (HTTP ",
    FaultKind.RATE_LIMITED: "the server is busy (HTTP ",
    FaultKind.REDIRECTED: "the server answered with a redirect",
    FaultKind.BAD_REQUEST: "the server rejected the request (HTTP ",
}
"""How `describe()` begins the sentences that carry a figure."""


def described_kind(sentence: str) -> FaultKind | None:
    """The kind whose `describe()` wrote `sentence` (a fault kept as text, shown later in the reader's language);
    None for any other text."""
    for kind, text in _SENTENCES.items():
        if sentence == text:
            return kind
    if sentence in (FOREIGN_TOKEN_URL, FOREIGN_LINK):
        return FaultKind.FOREIGN_ORIGIN
    return next((kind for kind, opening in _OPENINGS.items() if sentence.startswith(opening)), None)


class FhirError(Exception):
    """A request to the FHIR server did not give a usable answer."""

    def __init__(
        self,
        kind: FaultKind,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        timeout_s: float | None = None,
        detail: str | None = None,
        server_text: str | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.timeout_s = timeout_s
        self.detail = detail
        self.server_text = server_text
        """The first sentence of the server's OperationOutcome, for a caller that may show it (a refused break-glass
        reason); never part of `describe()`, since a generic server's diagnostics may echo what was sent."""
        super().__init__(self.describe())

    @property
    def offline(self) -> bool:
        """Whether the server is, for now, unable to answer (as opposed to answering no)."""
        return self.kind in OFFLINE_KINDS

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def describe(self) -> str:
        """One plain sentence for the clerk and the log."""
        k = self.kind
        if k is FaultKind.TIMEOUT:
            within = f" within {self.timeout_s:g} s" if self.timeout_s is not None else " in time"
            return f"the server did not answer{within}"
        if k is FaultKind.SERVER_ERROR:
            return f"the server failed (HTTP {self.status})"
        if k is FaultKind.FOREIGN_ORIGIN:
            return self.detail or FOREIGN_LINK
        if k is FaultKind.REDIRECTED:
            return f"the server answered with a redirect (HTTP {self.status}), which the kiosk does not follow"
        if k is FaultKind.RATE_LIMITED:
            after = f"; retry after {self.retry_after:g} s" if self.retry_after is not None else ""
            return f"the server is busy (HTTP {self.status}){after}"
        sentence = _SENTENCES.get(k)
        if sentence is not None:
            return sentence
        return f"the server rejected the request (HTTP {self.status})" + (f": {self.detail}" if self.detail else "")
