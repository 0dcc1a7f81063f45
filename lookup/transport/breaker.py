"""A small circuit breaker: after a server fails, stop asking it for a while, so a dead server costs one timeout.

States: closed (requests flow), open (requests fail at once), half-open (after `reset_after_s`, one request is let
through as a trial; its success closes the circuit, its failure opens it again). A transport fault (refused,
timed out) opens the circuit at once: waiting for a second timeout would double what the clerk waits. Server errors
(5xx) open it only after `threshold` in a row, since a server that answers at all may answer the next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Per-server failure memory. Not thread-safe: one event loop uses it."""

    def __init__(
        self, *, threshold: int = 3, reset_after_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a request may go out now; in half-open state only one trial at a time does."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failure(self, *, fatal: bool = False) -> None:
        """Record a failed request; `fatal` (a transport fault) opens the circuit at once."""
        self._failures += 1
        self._trial_running = False
        if fatal or self._failures >= self.threshold or self._opened_at is not None:
            self._opened_at = self._clock()

    def reset(self) -> None:
        self.success()
