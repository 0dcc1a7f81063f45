"""The shapes the lookup service reports and answers with besides `LookupOutcome`: progress steps, prefetch results
and service status (check-in and walk-in answers are domain shapes, `lookup.domain.visits`). None of them carries
patient data: they are shown on screen and may be logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

StepName = Literal["connect", "identify", "match", "summary", "verify", "cache", "audit", "link"]


class LookupStep(BaseModel):
    """One step of a running lookup, for the progress display."""

    model_config = ConfigDict(frozen=True)

    name: str
    state: Literal["started", "done", "failed"]
    detail: str = ""


Progress = Callable[[LookupStep], None]


class Reporter:
    """Sends steps to an optional progress callback; a failing callback never breaks a lookup."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self.current: str | None = None
        """The step started and not yet done: the one a fault interrupted."""

    def _send(self, name: str, state: Literal["started", "done", "failed"], detail: str) -> None:
        if self._progress is None:
            return
        try:
            self._progress(LookupStep(name=name, state=state, detail=detail))
        except Exception:
            log.warning("a progress callback failed; the lookup goes on", exc_info=True)

    def start(self, name: StepName, detail: str = "") -> None:
        self.current = name
        self._send(name, "started", detail)

    def done(self, name: StepName, detail: str = "") -> None:
        self.current = None
        self._send(name, "done", detail)

    def failed(self, name: StepName, detail: str = "") -> None:
        self.current = None
        self._send(name, "failed", detail)

    def interrupted(self, detail: str) -> None:
        """The running step (if any) ended by a fault."""
        if self.current is not None:
            name, self.current = self.current, None
            self._send(name, "failed", detail)


class ServiceStatus(BaseModel):
    """Whether the server answers, and what is waiting in the outbox."""

    model_config = ConfigDict(frozen=True)

    online: bool
    server: str
    last_error: str | None = None
    last_fault: str | None = None
    """The kind of the last error (`unreachable`, `timeout`...), which screens translate."""
    breaker: str = "closed"
    outbox_queued: int = 0
    """Messages this service put in the outbox since it started."""
    outbox_delivered: int = 0
    """Messages this service delivered (acknowledged by the server) since it started."""


class PrefetchResult(BaseModel):
    """What a prefetch stored in the cache (counts only)."""

    model_config = ConfigDict(frozen=True)

    referrals: int = 0
    appointments: int = 0
    patients: int = 0
    summaries: int = 0
    message: str | None = None
