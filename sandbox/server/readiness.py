"""Honest start-up: until every operation runs at full quality, the FHIR routes answer 503 with Retry-After.

The server listens as soon as its database is open, so a client or a supervisor gets a clear answer at once rather
than a refused connection. While the matching index is being loaded or built, every request under the FHIR base path
(the CapabilityStatement and the token endpoint included) is answered `503` with an OperationOutcome (`transient`,
"starting: the matching index is loading") and `Retry-After`. `start_sandbox` returns, and `kiosk sandbox` prints
its ready line, only once that is over; from then on `/metadata` answers 200 and `$match` runs on the engine (or, if
building it failed, is no longer offered).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.server.http import problem_response
from sandbox.server.matcher import Matching

RETRY_AFTER_S: Final = 5
"""A stored index loads in seconds; a first build of a million people takes a minute or two."""
STARTING: Final = "starting: the matching index is loading"


class StartingGate:
    """ASGI middleware answering 503 under `base_path` until `matching` is ready."""

    def __init__(self, app: ASGIApp, *, matching: Matching, base_path: str) -> None:
        self.app = app
        self.matching = matching
        self.base_path = base_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.matching.ready and _under(scope["path"], self.base_path):
            response = problem_response(503, "transient", STARTING, {"Retry-After": str(RETRY_AFTER_S)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")
