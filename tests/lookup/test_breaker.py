"""The circuit breaker's states, on an injected clock."""

from __future__ import annotations

from lookup.transport.breaker import BreakerState, CircuitBreaker
from lookup.transport.faults import FaultKind, FhirError


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh each time (a property that changes with the clock)."""
    return breaker.state


def test_transport_fault_opens_at_once_and_one_trial_follows() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, reset_after_s=10.0, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure(fatal=True)
    assert state(breaker) is BreakerState.OPEN and not breaker.allow()
    now[0] = 10.5
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow(), "one trial at a time"
    breaker.failure()
    assert state(breaker) is BreakerState.OPEN, "a failed trial opens it again"
    now[0] = 21.0
    assert breaker.allow()
    breaker.success()
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()


def test_server_errors_open_only_after_the_threshold() -> None:
    breaker = CircuitBreaker(threshold=3, reset_after_s=10.0, clock=lambda: 0.0)
    breaker.failure()
    breaker.failure()
    assert state(breaker) is BreakerState.CLOSED
    breaker.failure()
    assert state(breaker) is BreakerState.OPEN


def test_fault_sentences_name_the_fault_without_data() -> None:
    texts = {kind: FhirError(kind, status=500, retry_after=3, timeout_s=2).describe() for kind in FaultKind}
    assert len(set(texts.values())) == len(FaultKind), "every fault has its own sentence"
    assert FhirError(FaultKind.BAD_REQUEST, status=400, detail="invalid").describe().endswith("(HTTP 400): invalid")
