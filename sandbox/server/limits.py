"""Abuse limits of the sandbox server: every cap in one place, and the machinery that enforces them.

What is capped, and how a caller is told:

- request body: at most `AbuseLimits.max_body_bytes` (256 KiB). Checked in the ASGI layer before anything parses
  the body: a declared `Content-Length` over the cap is refused at once without reading a byte, and a body sent
  without one (chunked) is counted as it streams and refused when the count passes the cap. 413 OperationOutcome
  `too-long`, and the connection is closed rather than read to the end.
- request rate: a token bucket per client (`AbuseLimits.requests_per_s` sustained, `AbuseLimits.request_burst` at
  once), keyed by the bearer token's client id, or by the source address for requests without a valid token and for
  the token endpoint. 429 OperationOutcome `throttled` (RFC 6749 shape at the token endpoint) with `Retry-After`.
- failed token requests (a wrong secret or PIN): after `AbuseLimits.lockout_after` consecutive failures for one
  client id, or `AbuseLimits.lockout_after_per_address` from one source address, every further attempt (the right
  secret too) is refused unchecked for `lockout_first_s`, doubling with each failure after that up to
  `lockout_longest_s`; attempts under way count against the threshold, so guesses sent at once are not all checked.
  429 in RFC 6749 shape (`temporarily_unavailable`) with `Retry-After`. A success resets the client's and the
  address's count.
- page size: `_count` above `MAX_PAGE_SIZE` is served as `MAX_PAGE_SIZE` (FHIR lets a server return fewer than
  asked; the `next` link carries the smaller size), on every search.
- `$match`: at most `MATCH_MAX_RESULTS` candidates; every string of the Patient it carries is capped (names
  `MATCH_NAME_CHARS`, phone and other contacts `MATCH_TELECOM_CHARS`, address and anything else
  `MATCH_TEXT_CHARS`), lists at `MATCH_LIST_ITEMS` items, objects at `MATCH_ELEMENTS` elements and nesting at
  `MATCH_DEPTH`. 400 naming the field.

The caps a test or a benchmark may want to move are fields of `AbuseLimits` (`SandboxConfig.limits`); the ones
that shape the OpenAPI schema are constants. Tables of clients and addresses are bounded (`TRACKED_KEYS`, least
recently seen forgotten first), so a flood of made-up client ids cannot grow the server's memory. Source addresses
are the TCP peer's: a proxy's forwarding headers are not trusted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.server.auth import Authority, TokenError
from sandbox.server.fhir import operation_outcome

log = logging.getLogger("sandbox")
Json = dict[str, Any]

MAX_PAGE_SIZE: Final = 100
"""The most entries one page of any search holds; a larger `_count` is served as this."""
MATCH_MAX_RESULTS: Final = 50
"""The largest `count` a `$match` may ask for."""
MATCH_NAME_CHARS: Final = 100
MATCH_TELECOM_CHARS: Final = 50
MATCH_TEXT_CHARS: Final = 200
MATCH_LIST_ITEMS: Final = 10
MATCH_ELEMENTS: Final = 40
MATCH_DEPTH: Final = 8
ELEMENT_NAME_CHARS: Final = 64
TRACKED_KEYS: Final = 10_000
"""Clients and addresses remembered by the rate limiter and by the lockout, each."""
LIMITS_EXTENSION_URL: Final = "https://hssk.sandbox.invalid/fhir/StructureDefinition/abuse-limits"
_FIELD_CHARS: Final = {"name": MATCH_NAME_CHARS, "telecom": MATCH_TELECOM_CHARS}


class AbuseLimits(BaseModel):
    """The caps a deployment (or a test) may set; the defaults leave a busy hospital's kiosks well inside them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 2**20)] = 256 * 1024
    requests_per_s: Annotated[float, Field(gt=0, le=1_000_000)] = 200.0
    """Sustained requests per second per client id (or per source address without a token)."""
    request_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    """Requests a client may send at once before the sustained rate applies."""
    lockout_after: Annotated[int, Field(ge=1, le=1000)] = 5
    """Consecutive wrong secrets for one client id before it is locked out."""
    lockout_after_per_address: Annotated[int, Field(ge=1, le=10_000)] = 20
    """Consecutive failures from one source address (any client ids) before the address is locked out; higher than
    per client since one address may front a whole floor of kiosks."""
    lockout_first_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    lockout_longest_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, rounded up, at least one."""
    return str(max(1, math.ceil(seconds)))


# -- rate limit -------------------------------------------------------------------------------------------------


class RateLimiter:
    """Token buckets, one per key: `burst` requests at once, refilled at `per_s` a second."""

    def __init__(self, per_s: float, burst: int, tracked: int = TRACKED_KEYS) -> None:
        self._per_s = per_s
        self._burst = float(burst)
        self._tracked = tracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request of `key`'s bucket: 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - stamp) * self._per_s)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._tracked:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self._per_s


# -- lockout ----------------------------------------------------------------------------------------------------


class LockedOut(TokenError):
    """A token request refused unchecked, because its client id or address is locked out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "temporarily_unavailable", f"too many failed attempts; try again in {retry_after(seconds)} s", 429
        )
        self.retry_after_s = seconds


@dataclass(slots=True)
class _Failures:
    count: int = 0
    """Consecutive failures."""
    locks: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    checking: int = 0
    """Attempts being checked right now: each may yet be a failure."""


class Lockout:
    """Consecutive token failures per client id and per source address, and the locks they earn.

    An attempt in progress counts against the threshold until it ends: a PIN check takes tens of milliseconds, and
    without this many guesses sent at once would all be checked before the first failure locked anything."""

    def __init__(self, limits: AbuseLimits, tracked: int = TRACKED_KEYS) -> None:
        self._limits = limits
        self._tracked = tracked
        self._entries: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, client_id: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return (
            (f"client:{client_id}", self._limits.lockout_after),
            (f"address:{address}", self._limits.lockout_after_per_address),
        )

    def _entry(self, key: str, now: float) -> _Failures:
        """The entry of `key`, most recently used from now on; forgotten after a quiet spell as long as the
        longest lock."""
        entry = self._entries.pop(key, None)
        if entry is None or (not entry.checking and now - entry.last > self._limits.lockout_longest_s):
            entry = _Failures(last=now)
        self._entries[key] = entry
        while len(self._entries) > self._tracked:
            self._entries.popitem(last=False)
        return entry

    def begin(self, client_id: str, address: str, now: float | None = None) -> None:
        """Admit one attempt for checking, or raise `LockedOut` (locked, or as many attempts under way as could
        reach the threshold)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entries = [(self._entry(key, now), threshold) for key, threshold in self._keys(client_id, address)]
            wait = max(entry.locked_until - now for entry, _ in entries)
            # Below the threshold, as many at once as failures are left; past it (a lock ran out), one at a time.
            if wait <= 0 and any(entry.checking >= max(1, threshold - entry.count) for entry, threshold in entries):
                wait = min(self._limits.lockout_first_s, 1.0)
            if wait > 0:
                raise LockedOut(wait)
            for entry, _ in entries:
                entry.checking += 1

    def end(self, client_id: str, address: str, *, failed: bool | None, now: float | None = None) -> None:
        """Close an attempt `begin` admitted: a failure counts (and may lock), a success resets the count, and
        `failed=None` (the attempt broke off, saying nothing about the secret) does neither."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, threshold in self._keys(client_id, address):
                entry = self._entry(key, now)
                entry.checking = max(0, entry.checking - 1)
                if failed is None:
                    continue
                if not failed:
                    entry.count, entry.locks, entry.locked_until = 0, 0, 0.0
                    if not entry.checking:
                        del self._entries[key]
                    continue
                entry.count += 1
                entry.last = now
                if entry.count >= threshold:
                    seconds = min(self._limits.lockout_first_s * 2**entry.locks, self._limits.lockout_longest_s)
                    entry.locked_until = now + seconds
                    entry.locks += 1
                    log.warning("token endpoint: %r locked out for %.0f s after %d failures", key, seconds, entry.count)

    @contextmanager
    def attempt(self, client_id: str, address: str) -> Iterator[None]:
        """Guard one token request: refused unchecked (`LockedOut`) while locked; a `TokenError` inside counts as a
        failure, a clean exit as a success. A refused scope is no failure: the secret was right."""
        self.begin(client_id, address)
        try:
            yield
        except TokenError as exc:
            self.end(client_id, address, failed=exc.error != "invalid_scope")
            raise
        except BaseException:
            self.end(client_id, address, failed=None)
            raise
        self.end(client_id, address, failed=False)


# -- `$match` fields --------------------------------------------------------------------------------------------


def match_field_problem(patient: Mapping[str, Any]) -> str | None:
    """What in a `$match` Patient is over its cap (named by its path, never by its value), or None."""
    stack: list[tuple[str, Any, int, int]] = [("Patient", patient, 0, MATCH_TEXT_CHARS)]
    while stack:
        path, value, depth, chars = stack.pop()
        if isinstance(value, str):
            if len(value) > chars:
                return f"{path} is longer than {chars} characters"
        elif isinstance(value, Mapping | list):
            if depth >= MATCH_DEPTH:
                return f"{path} is nested deeper than {MATCH_DEPTH} levels"
            if isinstance(value, list):
                if len(value) > MATCH_LIST_ITEMS:
                    return f"{path} has more than {MATCH_LIST_ITEMS} items"
                stack.extend((f"{path}[{i}]", item, depth + 1, chars) for i, item in enumerate(value))
                continue
            if len(value) > MATCH_ELEMENTS:
                return f"{path} has more than {MATCH_ELEMENTS} elements"
            for key, item in value.items():
                if not isinstance(key, str) or len(key) > ELEMENT_NAME_CHARS:
                    return f"{path} has an element name longer than {ELEMENT_NAME_CHARS} characters"
                cap = _FIELD_CHARS.get(key, chars) if depth == 0 else chars
                stack.append((f"{path}.{key}", item, depth + 1, cap))
    return None


# -- the ASGI layer ---------------------------------------------------------------------------------------------


def _clamped_query(query: bytes) -> bytes:
    """The query string with every `_count` above `MAX_PAGE_SIZE` lowered to it; the rest byte for byte."""
    if b"count" not in query:  # also `%5Fcount`
        return query
    parts = query.split(b"&")
    for i, part in enumerate(parts):
        name, _, value = part.partition(b"=")
        if unquote_plus(name.decode("latin-1")) != "_count":
            continue
        text = unquote_plus(value.decode("latin-1")).strip()
        if text.isdigit() and int(text) > MAX_PAGE_SIZE:
            parts[i] = b"_count=%d" % MAX_PAGE_SIZE
    return b"&".join(parts)


class AbuseGuard:
    """The rate limiter and lockout of one server, and how a request's client is known."""

    def __init__(self, limits: AbuseLimits, token_path: str, authority: Authority) -> None:
        self.limits = limits
        self.token_path = token_path
        self.rate = RateLimiter(limits.requests_per_s, limits.request_burst)
        self.lockout = Lockout(limits)
        self._authority = authority

    def rate_key(self, scope: Scope, headers: Headers) -> str:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scope.get("path") != self.token_path and scheme.lower() == "bearer" and token.strip():
            grant = self._authority.grant(token.strip())
            if grant is not None:
                return f"client:{grant.client_id}"
        return f"address:{address_of(scope)}"


def address_of(scope: Scope) -> str:
    client: Sequence[Any] | None = scope.get("client")
    return str(client[0]) if client else "unknown"


def guard_of(request: Request) -> AbuseGuard:
    guard: AbuseGuard = request.app.state.limits
    return guard


class AbuseLimitsMiddleware:
    """Rate limit, body cap and page-size cap, applied before routing: nothing refused here is parsed or run."""

    def __init__(self, app: ASGIApp, guard: AbuseGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cap = self.guard.limits.max_body_bytes
        declared = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        oversized = declared is not None and declared.strip().isdigit() and int(declared) > cap
        wait = self.guard.rate.take(self.guard.rate_key(scope, headers))
        if wait > 0:
            text = "too many requests from this client; slow down"
            headers_out = {"Retry-After": retry_after(wait)}
            await self._refuse(scope, receive, send, 429, "throttled", text, headers_out, close=oversized or chunked)
            return
        if oversized:
            await self._too_large(scope, receive, send)
            return
        if declared is not None or chunked:
            body = await self._read_body(receive, cap)
            if body is None:
                await self._too_large(scope, receive, send)
                return
            receive = _replay(body, receive)
        query = scope.get("query_string", b"")
        clamped = _clamped_query(query)
        if clamped != query:
            scope = dict(scope, query_string=clamped)
        await self.app(scope, receive, send)

    @staticmethod
    async def _read_body(receive: Receive, cap: int) -> Message | None:
        """The whole body as one message (or the disconnect that cut it short); None once it passes `cap`."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        cap = self.guard.limits.max_body_bytes
        text = f"the request body is larger than {cap} bytes"
        await self._refuse(scope, receive, send, 413, "too-long", text, {}, close=True)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        text: str,
        headers: dict[str, str],
        *,
        close: bool,
    ) -> None:
        """Answer without calling the application. With `close`, the connection is closed after the answer rather
        than kept alive: keeping it would mean reading (and parsing) the rest of a body the server has refused,
        megabytes of CPU the attacker chooses; closing costs the attacker a new connection instead."""
        if close:
            headers = headers | {"Connection": "close"}
        response: Response
        if scope.get("path") == self.guard.token_path:
            error = "temporarily_unavailable" if status == 429 else "invalid_request"
            body = {"error": error, "error_description": text}
            response = JSONResponse(body, status, headers | {"Cache-Control": "no-store"})
        else:
            response = JSONResponse(operation_outcome(code, text), status, headers, media_type="application/fhir+json")
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that hands over the body already read, then whatever the connection says next."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


# -- the CapabilityStatement ------------------------------------------------------------------------------------


def capability_extension(limits: AbuseLimits) -> Json:
    """Every cap, as an extension of the CapabilityStatement (machine-readable)."""
    caps: list[tuple[str, Json]] = [
        ("maxRequestBodyBytes", {"valueInteger": limits.max_body_bytes}),
        ("requestsPerSecondPerClient", {"valueDecimal": limits.requests_per_s}),
        ("requestBurstPerClient", {"valueInteger": limits.request_burst}),
        ("tokenLockoutAfterFailuresPerClient", {"valueInteger": limits.lockout_after}),
        ("tokenLockoutAfterFailuresPerAddress", {"valueInteger": limits.lockout_after_per_address}),
        ("tokenLockoutFirstSeconds", {"valueDecimal": limits.lockout_first_s}),
        ("tokenLockoutLongestSeconds", {"valueDecimal": limits.lockout_longest_s}),
        ("maxPageSize", {"valueInteger": MAX_PAGE_SIZE}),
        ("matchMaxResults", {"valueInteger": MATCH_MAX_RESULTS}),
        ("matchNameMaxCharacters", {"valueInteger": MATCH_NAME_CHARS}),
        ("matchTelecomMaxCharacters", {"valueInteger": MATCH_TELECOM_CHARS}),
        ("matchTextMaxCharacters", {"valueInteger": MATCH_TEXT_CHARS}),
        ("matchListMaxItems", {"valueInteger": MATCH_LIST_ITEMS}),
    ]
    return {"url": LIMITS_EXTENSION_URL, "extension": [{"url": name} | value for name, value in caps]}


def capability_text(limits: AbuseLimits) -> str:
    """Every cap, in words, for `rest.documentation`."""
    return (
        f"Limits: request bodies up to {limits.max_body_bytes} bytes (413); {limits.requests_per_s:g} requests/s "
        f"per client, bursts of {limits.request_burst} (429 with Retry-After); the token endpoint locks a client id "
        f"out after {limits.lockout_after} consecutive failures and an address after "
        f"{limits.lockout_after_per_address}, for {limits.lockout_first_s:g} s doubling up to "
        f"{limits.lockout_longest_s:g} s (429 with Retry-After); at most {MAX_PAGE_SIZE} entries a page (a larger "
        f"_count is served as {MAX_PAGE_SIZE}); $match: count up to {MATCH_MAX_RESULTS}, names up to "
        f"{MATCH_NAME_CHARS} characters, telecom {MATCH_TELECOM_CHARS}, addresses and other text "
        f"{MATCH_TEXT_CHARS}, lists of {MATCH_LIST_ITEMS} items (400 naming the field)."
    )
