"""The duplicate-patient review queue on both caches."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from offline_cache.cache import OfflineCache
from offline_cache.hospital.link import SharedRunner
from offline_cache.review import DecisionDelivery, FoundPair, PairDecision, ReviewState, WaitingPair
from offline_cache.shared import SharedCache


class HospitalReview:
    """The review queue of possible duplicates on the shared cache while it is reachable, this kiosk's own otherwise
    (`lookup.service.cache_protocol.ReviewQueue`, structurally).

    Decisions are written to both, so this kiosk remembers its own through an outage of the shared cache, and the
    hospital-wide one stands when two kiosks decide at once. A pair this kiosk decided while the shared cache was
    away is neither offered nor listed from the shared one: its decision is copied there when the pair turns up.
    """

    def __init__(self, local: OfflineCache, shared: SharedRunner) -> None:
        self._local = local
        self._shared = shared

    def offer(self, pairs: Iterable[FoundPair]) -> int:
        fresh = [pair for pair in pairs if self._local.review.decision(pair.first, pair.second) is None]
        count = self._shared.run(lambda c: c.review.offer(fresh))
        return self._local.review.offer(fresh) if count is None else count

    def waiting(self, limit: int = 100) -> list[WaitingPair]:
        listed = self._shared.run(lambda c: c.review.waiting(limit))
        if listed is None:
            return self._local.review.waiting(limit)
        kept = []
        for pair in listed:
            mine = self._local.review.decision(pair.first, pair.second)
            if mine is None:
                kept.append(pair)
            else:
                self._shared.run(_copied(mine))
        return kept

    def counts(self) -> dict[ReviewState, int]:
        return self._shared.run(lambda c: c.review.counts()) or self._local.review.counts()

    def decide(
        self, first: str, second: str, state: ReviewState | str, staff_id: str, delivery: DecisionDelivery | str
    ) -> PairDecision:
        mine = self._local.review.decide(first, second, state, staff_id, delivery)
        hospital = self._shared.run(lambda c: c.review.decide(first, second, state, staff_id, delivery))
        return hospital or mine

    def decision(self, first: str, second: str) -> PairDecision | None:
        found = self._shared.run(lambda c: (c.review.decision(first, second),))
        hospital = found[0] if found is not None else None
        return hospital or self._local.review.decision(first, second)

    def pending(self, limit: int = 100) -> list[PairDecision]:
        """Both queues' `same` decisions still to be sent, each pair once."""
        both = [*(self._shared.run(lambda c: c.review.pending(limit)) or []), *self._local.review.pending(limit)]
        return list({(d.first, d.second): d for d in reversed(both)}.values())[:limit]

    def set_delivery(self, first: str, second: str, delivery: DecisionDelivery | str) -> None:
        self._local.review.set_delivery(first, second, delivery)
        self._shared.run(lambda c: c.review.set_delivery(first, second, delivery))


def _copied(decision: PairDecision) -> Callable[[SharedCache], PairDecision]:
    """The operation that records this kiosk's decision in the shared queue."""

    def copy(cache: SharedCache) -> PairDecision:
        d = decision
        return cache.review.decide(d.first, d.second, d.state, d.staff_id, d.delivery)

    return copy
