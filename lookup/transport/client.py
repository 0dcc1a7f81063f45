"""The async FHIR HTTP client: one connection pool per server, OAuth2 client credentials, bounded retries, a
circuit breaker, and every failure turned into a `FhirError` of a precise kind.

Retries (tenacity, jittered exponential backoff) apply to idempotent calls only (GET, PUT, and the read-only
`$match` POST) and never to a timeout: a server that hung has already cost its whole budget. A 429/503 with
`Retry-After` is waited for when the wait is short, and until then every request fails fast as `rate-limited`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import posixpath
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from lookup.domain.origins import origin_of
from lookup.domain.text import inert
from lookup.fhir.capabilities import ServerFeatures, parse_capability_statement
from lookup.transport.breaker import CircuitBreaker
from lookup.transport.config import ServerConfig
from lookup.transport.faults import FOREIGN_TOKEN_URL, FaultKind, FhirError

log = logging.getLogger(__name__)


class _QueryRedactor(logging.Filter):
    """httpx logs every request's URL at INFO, and a search URL's query carries identifiers, names and birth dates:
    the query is replaced before any handler sees the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) and a.query for a in record.args):
            record.args = tuple(
                f"{a.copy_with(query=None)}?<query withheld>" if isinstance(a, httpx.URL) and a.query else a
                for a in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_QueryRedactor())

FHIR_JSON = "application/fhir+json"
Json = dict[str, Any]
Within = Literal["base", "origin"]
"""Where a request may go: under the configured base URL (every FHIR call) or only on its origin (the token)."""


class Answer(BaseModel):
    """A server's answer to a write, with the headers a delivery receipt is made of."""

    model_config = ConfigDict(frozen=True)

    body: Json
    location: str | None = None
    """The `Location` header: where the server keeps what it made."""
    date: str | None = None
    """The `Date` header: the server's clock when it answered."""


def _under(target: httpx.URL, base: httpx.URL) -> bool:
    """Whether an absolute URL's path lies under the base URL's path (after `..` segments are resolved)."""
    path = posixpath.normpath(target.path) + ("/" if target.path.endswith("/") else "")
    return (path if path.endswith("/") else path + "/").startswith(base.path)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _issue_codes(body: Any) -> list[str]:
    """The issue codes and texts of an OperationOutcome, lower-cased (they may carry `consent-required`)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    found: list[str] = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        found.append(str(issue.get("code", "")).lower())
        details = issue.get("details")
        if isinstance(details, dict):
            found.append(str(details.get("text", "")).lower())
            for coding in details.get("coding") or []:
                if isinstance(coding, dict):
                    found.append(str(coding.get("code", "")).lower())
        found.append(str(issue.get("diagnostics", "")).lower())
    return found


_SERVER_TEXT_CHARS = 200


def _issue_text(body: Any) -> str | None:
    """The first issue's `details.text` of an OperationOutcome: printable, one line, at most 200 characters."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    for issue in body.get("issue") or []:
        details = issue.get("details") if isinstance(issue, dict) else None
        text = details.get("text") if isinstance(details, dict) else None
        if isinstance(text, str) and text.strip():
            return " ".join(inert(text, limit=_SERVER_TEXT_CHARS).split()) or None
    return None


def _query(params: Mapping[str, str] | list[tuple[str, str]] | None) -> httpx.QueryParams | None:
    if not params:
        return None
    pairs = tuple(params.items()) if isinstance(params, Mapping) else tuple(params)
    return httpx.QueryParams(pairs)


def _cut_in_character(content: bytes) -> bool:
    """Whether the bytes end inside a multi-byte UTF-8 character (a body cut mid-character)."""
    try:
        content[-4:].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


def decode_json(content: bytes, *, resource: bool = True) -> Json:
    """Parse a FHIR JSON resource (or, with `resource=False`, any JSON object such as a token answer); a body cut
    short and a body that is no resource are told apart."""
    if not content.strip():
        raise FhirError(FaultKind.TRUNCATED)
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        # Running out of text means the answer stopped early; an error anywhere else means it is malformed.
        message = exc.msg.lower()
        cut = "end of data" in message or "eof" in message or _cut_in_character(content)
        raise FhirError(FaultKind.TRUNCATED if cut else FaultKind.INVALID_JSON) from None
    if not isinstance(data, dict) or (resource and not isinstance(data.get("resourceType"), str)):
        raise FhirError(FaultKind.INVALID_JSON)
    return data


def _status_error(response: httpx.Response) -> FhirError:
    status = response.status_code
    try:
        body: Any = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    codes = _issue_codes(body)
    if status in (429, 503):
        return FhirError(
            FaultKind.RATE_LIMITED, status=status, retry_after=_retry_after(response.headers.get("Retry-After"))
        )
    if status == 501 or status == 405:
        return FhirError(FaultKind.NOT_SUPPORTED, status=status)
    if status >= 500:
        return FhirError(FaultKind.SERVER_ERROR, status=status)
    if status == 401:
        return FhirError(FaultKind.UNAUTHORIZED, status=status)
    if status == 403:
        consent = any("consent" in c for c in codes)
        return FhirError(FaultKind.CONSENT_REQUIRED if consent else FaultKind.FORBIDDEN, status=status)
    if status == 404:
        unsupported = any(c in ("not-supported", "not_supported") or "not supported" in c for c in codes)
        return FhirError(FaultKind.NOT_SUPPORTED if unsupported else FaultKind.NOT_FOUND, status=status)
    if any(c == "not-supported" for c in codes):
        return FhirError(FaultKind.NOT_SUPPORTED, status=status)
    # Only issue codes go into the detail: diagnostics may echo the query's values.
    plain = sorted({c for c in codes if c and c.replace("-", "").isalpha() and len(c) < 30})
    return FhirError(
        FaultKind.BAD_REQUEST, status=status, detail=", ".join(plain) or None, server_text=_issue_text(body)
    )


class FhirClient:
    """One FHIR server: its connection pool, credentials, capabilities and failure memory."""

    def __init__(self, config: ServerConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/") + "/"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            http2=True,
            transport=transport,
            # A redirect would carry the bearer token (or the client secret) to wherever it points: never followed.
            follow_redirects=False,
            timeout=self._timeout(config.timeout_s),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            headers={"Accept": FHIR_JSON, "User-Agent": config.user_agent},
        )
        self.breaker = CircuitBreaker(reset_after_s=config.breaker_reset_s)
        self._features: ServerFeatures | None = None
        self._features_lock = asyncio.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._credentials = config.client_id is not None and config.client_secret is not None
        self._staff: tuple[str, SecretStr] | None = None
        """The staff member signed in at the kiosk (id, PIN), sent with every token request while signed in."""
        self._busy_until = 0.0
        self.last_error: FhirError | None = None

    def _timeout(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(seconds, self.config.connect_timeout_s))

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- capabilities and credentials ---------------------------------------------------------------------------

    async def features(self) -> ServerFeatures:
        """The server's CapabilityStatement, read once. A server without one is probed later, not refused."""
        if self._features is not None:
            return self._features
        async with self._features_lock:
            if self._features is None:
                try:
                    doc = await self._request(
                        "GET",
                        "metadata",
                        idempotent=True,
                        authenticated=False,
                        timeout_s=self.config.timeout_for("connect"),
                    )
                    self._features = parse_capability_statement(doc)
                except FhirError as exc:
                    if exc.offline and exc.kind is not FaultKind.INVALID_JSON:
                        raise
                    log.info("server publishes no usable CapabilityStatement (%s); probing instead", exc.kind)
                    self._features = ServerFeatures()
        return self._features

    def forget(self, operation: str) -> None:
        """Remember that the server lacks an operation it was probed for."""
        if self._features is not None:
            self._features = self._features.model_copy(update={operation: False})

    def learn(self, operation: str) -> None:
        if self._features is not None and getattr(self._features, operation) is None:
            self._features = self._features.model_copy(update={operation: True})

    async def _auth_headers(self) -> dict[str, str]:
        if not self._credentials:
            return {}
        if self._token is not None and time.monotonic() < self._token_expires:
            return {"Authorization": f"Bearer {self._token}"}
        async with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                await self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def _fetch_token(self) -> None:
        features = await self.features()
        url = features.token_url or "auth/token"
        secret = self.config.client_secret.get_secret_value() if self.config.client_secret else ""
        form = {"grant_type": "client_credentials", "client_id": self.config.client_id or "", "client_secret": secret}
        if self.config.scope:
            form["scope"] = self.config.scope
        staff = self._staff
        if staff is not None:
            form["staff_id"], form["staff_pin"] = staff[0], staff[1].get_secret_value()
        try:
            body = await self._request(
                "POST",
                url,
                form=form,
                idempotent=True,
                authenticated=False,
                resource=False,
                timeout_s=self.config.timeout_for("connect"),
                within="origin",
            )
        except FhirError as exc:
            if exc.kind in (FaultKind.NOT_FOUND, FaultKind.NOT_SUPPORTED):
                # No token endpoint: a server inside the hospital network that needs no credentials.
                log.info("the server has no token endpoint; continuing without credentials")
                self._credentials = False
                self._token = None
                return
            if exc.kind is FaultKind.BAD_REQUEST:
                if staff is not None:
                    # The staff member's PIN is no longer accepted: never sent again (each try counts towards the
                    # server's lockout of this kiosk), and the person is signed out.
                    self._staff = None
                raise FhirError(FaultKind.UNAUTHORIZED, status=exc.status) from None
            raise
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise FhirError(FaultKind.UNAUTHORIZED, detail="no access token in the answer")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 300.0
        # Refresh before expiry so a request never carries a token that dies on the way.
        self._token = token
        self._token_expires = time.monotonic() + seconds - min(30.0, seconds / 10)

    # -- the staff member at the kiosk --------------------------------------------------------------------------

    @property
    def has_credentials(self) -> bool:
        """Whether this kiosk asks the server for tokens (it has client credentials, and the server a token URL)."""
        return self._credentials

    @property
    def staff_id(self) -> str | None:
        """The staff member whose id and PIN go with the token requests; None for a kiosk-only token."""
        return self._staff[0] if self._staff is not None else None

    async def sign_in_staff(self, staff_id: str, pin: SecretStr, *, verify: bool = True) -> bool:
        """Name this staff member in every token from now on; with `verify`, ask the server for their token now.

        False when the server turned out to have no token endpoint (nobody can be signed in there). A `FhirError`
        (a refused PIN is `unauthorized` with status 400) leaves nobody signed in."""
        async with self._token_lock:
            self._staff = (staff_id, pin)
            self._token = None
            if not verify:
                return True
            try:
                await self._fetch_token()
            except FhirError:
                self._staff = None
                raise
            if not self._credentials:
                self._staff = None
            return self._credentials

    async def sign_out_staff(self) -> None:
        """Forget the staff member and their token: the next request carries a kiosk-only token."""
        async with self._token_lock:
            self._staff = None
            self._token = None

    # -- requests -----------------------------------------------------------------------------------------------

    def _pin(self, path: str, within: Within) -> None:
        """Refuse, before anything is sent, a request that would leave the configured server: every URL (a paging
        link, a path with `..`) must lie under the base URL, and the token endpoint on the base's origin."""
        try:
            target = httpx.URL(path)
            if not target.is_absolute_url and not path.startswith("//"):
                # Relative: httpx appends it to the base URL, and `..` may then climb out of it.
                target = httpx.URL(self.base_url + path.lstrip("/"))
        except httpx.InvalidURL:
            raise FhirError(FaultKind.FOREIGN_ORIGIN) from None
        if within == "origin":
            if origin_of(str(target)) != origin_of(self.base_url):
                log.warning("token endpoint on another origin refused; no credentials sent")
                raise FhirError(FaultKind.FOREIGN_ORIGIN, detail=FOREIGN_TOKEN_URL)
            return
        if origin_of(str(target)) != origin_of(self.base_url) or not _under(target, httpx.URL(self.base_url)):
            log.warning("a link outside the server's base URL refused; no token sent")
            raise FhirError(FaultKind.FOREIGN_ORIGIN)

    async def get(self, path: str, params: Mapping[str, str] | list[tuple[str, str]] | None = None, **kw: Any) -> Json:
        return await self._request("GET", path, params=params, idempotent=True, **kw)

    async def post(self, path: str, body: Json, *, idempotent: bool = False, **kw: Any) -> Json:
        return await self._request("POST", path, json=body, idempotent=idempotent, **kw)

    async def put(self, path: str, body: Json, **kw: Any) -> Json:
        return await self._request("PUT", path, json=body, idempotent=True, **kw)

    async def send(
        self,
        method: Literal["PUT", "POST"],
        path: str,
        body: Json,
        *,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """A write whose answer's headers matter too (`Location`, `Date`): the outbox's deliveries, for receipts."""
        return await self._exchange(method, path, json=body, idempotent=idempotent, headers=headers)

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, FhirError) or not exc.retryable:
            return False
        if exc.kind is FaultKind.RATE_LIMITED:
            return exc.retry_after is not None and exc.retry_after <= self.config.max_retry_after_s
        return True

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, FhirError) and exc.retry_after is not None:
            return exc.retry_after
        return float(wait_random_exponential(multiplier=0.05, max=0.5)(state))

    async def _request(self, method: str, path: str, **kw: Any) -> Json:
        return (await self._exchange(method, path, **kw)).body

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        json: Json | None = None,
        form: dict[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        idempotent: bool,
        authenticated: bool = True,
        resource: bool = True,
        within: Within = "base",
    ) -> Answer:
        attempts = self.config.retries + 1 if idempotent else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(
                        method, path, params, json, form, headers, timeout_s, authenticated, resource, within
                    )
        except FhirError as exc:
            if exc.offline:
                self.last_error = exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying always returns or raises

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | list[tuple[str, str]] | None,
        json: Json | None,
        form: dict[str, str] | None,
        headers: Mapping[str, str] | None,
        timeout_s: float | None,
        authenticated: bool,
        resource: bool,
        within: Within,
    ) -> Answer:
        self._pin(path, within)
        for renewal in (False, True):
            if not self.breaker.allow():
                raise FhirError(FaultKind.CIRCUIT_OPEN)
            wait = self._busy_until - time.monotonic()
            if wait > 0.05:
                raise FhirError(FaultKind.RATE_LIMITED, status=429, retry_after=round(wait, 1))
            sent = dict(headers or {})
            if authenticated:
                sent.update(await self._auth_headers())
            content = orjson.dumps(json) if json is not None else None
            if content is not None:
                sent["Content-Type"] = FHIR_JSON
            seconds = timeout_s or self.config.timeout_s
            try:
                # httpx times each read alone: a server dripping a byte at a time never trips it. The deadline
                # bounds the whole answer.
                async with asyncio.timeout(seconds):
                    response = await self._http.request(
                        method,
                        path,
                        params=_query(params),
                        content=content,
                        data=form,
                        headers=sent,
                        timeout=self._timeout(seconds),
                    )
            except (httpx.TimeoutException, TimeoutError):
                self.breaker.failure(fatal=True)
                raise FhirError(FaultKind.TIMEOUT, timeout_s=seconds) from None
            except httpx.RemoteProtocolError:
                # The server closed the connection mid-answer: a body cut short.
                self.breaker.failure()
                raise FhirError(FaultKind.TRUNCATED) from None
            except httpx.TransportError:
                self.breaker.failure(fatal=True)
                raise FhirError(FaultKind.UNREACHABLE) from None
            status = response.status_code
            if 300 <= status < 400:
                self.breaker.success()
                raise FhirError(FaultKind.REDIRECTED, status=status)
            if status == 401 and authenticated and self._credentials and not renewal:
                # A token the server no longer honours: fetch a new one, once.
                self._token = None
                self.breaker.success()
                continue
            if status >= 400:
                error = _status_error(response)
                if error.kind is FaultKind.RATE_LIMITED and error.retry_after is not None:
                    self._busy_until = time.monotonic() + error.retry_after
                if status >= 500 and status != 503:
                    self.breaker.failure()
                else:
                    self.breaker.success()
                raise error
            self.breaker.success()
            self.last_error = None
            body = {} if status == 204 or not response.content else decode_json(response.content, resource=resource)
            return Answer(body=body, location=response.headers.get("Location"), date=response.headers.get("Date"))
        raise FhirError(FaultKind.UNAUTHORIZED, status=401)
