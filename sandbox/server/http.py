"""The HTTP plumbing every sandbox route shares: FHIR JSON responses, OperationOutcome errors, paging. (Who may call
which route is `sandbox.server.policy`'s to say.)

Every error leaves as an OperationOutcome (`application/fhir+json`) with the right status: 400 for a malformed
request, 401 without a valid token, 403 for a missing scope or consent, 404 for what does not exist, 422 for a
resource that cannot be processed, 413 for a body over the cap and 429 for a client sending too fast
(`sandbox.server.limits`), 500 for a fault of the server. Texts name what is wrong, never a patient's data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.server.fhir import operation_outcome
from sandbox.server.limits import MAX_PAGE_SIZE
from sandbox.server.state import SandboxState

log = logging.getLogger("sandbox")
FHIR_JSON: Final = "application/fhir+json"
MAX_COUNT: Final = MAX_PAGE_SIZE
DEFAULT_COUNT: Final = 20


class FhirResponse(Response):
    """FHIR JSON, serialised by orjson."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        data: bytes = orjson.dumps(content)
        return data


class FhirProblem(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(self, status: int, code: str, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text
        self.headers = dict(headers or {})


def problem_response(status: int, code: str, text: str, headers: Mapping[str, str] | None = None) -> FhirResponse:
    return FhirResponse(operation_outcome(code, text), status_code=status, headers=dict(headers or {}))


_STATUS_CODES: Final = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 409: "conflict"}


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, FhirProblem)
        return problem_response(exc.status, exc.code, exc.text, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body", "header", "path"))
            parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
        return problem_response(400, "invalid", "; ".join(parts) or "the request is malformed")

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "processing")
        text = {404: "no such endpoint", 405: "this method is not supported here"}.get(exc.status_code, str(exc.detail))
        return problem_response(exc.status_code, code, text, exc.headers)

    async def on_crash(_: Request, exc: Exception) -> Response:
        log.error("sandbox request failed: %s", type(exc).__name__, exc_info=exc)
        return problem_response(500, "exception", "the server failed to process the request")

    app.add_exception_handler(FhirProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


def state_of(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + state_of(request).config.base_path


def page_links(request: Request, count: int, offset: int, total: int) -> tuple[str, str | None]:
    """The self link and, when more results follow, the next link (same query, `_offset` moved on)."""
    self_url = str(request.url)
    if offset + count >= total:
        return self_url, None
    return self_url, str(request.url.include_query_params(_offset=offset + count, _count=count))
