"""The review of possible duplicate patients on this kiosk's cache: what the review screen and `kiosk duplicates`
are handed.

The pairs waiting come from the cache's review queue (the hospital's, when the kiosk is on the shared cache); a scan
of the whole cache finds pairs the checks at each lookup could not (records cached before, or by other kiosks); a
decision goes through the lookup service's outbox writer and client, which know the server and the staff member's
session. Reading and scanning touch the cache (a file, or a database on the network), so callers run them off the
app's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lookup.domain.duplicates import (
    DecisionResult,
    DecisionStatus,
    DuplicateDecision,
    DuplicatePair,
    DuplicateScan,
    QueuedDuplicate,
)
from lookup.service.duplicate_finder import DuplicateFinder
from lookup.service.duplicate_review import DuplicateReview, waiting_pairs

if TYPE_CHECKING:
    from kiosk.services.cache import KioskCache
    from kiosk.services.ports import KioskServices
    from lookup import LookupService


class DuplicateDesk:
    """One cache's review queue, and (when a lookup service is given) the way to the server for decisions."""

    def __init__(self, cache: KioskCache, lookup: LookupService | None = None) -> None:
        self._cache = cache
        self._finder = DuplicateFinder(cache.records, cache.review)
        self._review = DuplicateReview(cache.review, lookup.writer, lookup.client) if lookup is not None else None

    @property
    def decides(self) -> bool:
        """Whether decisions can be taken here (there is a lookup service to send them)."""
        return self._review is not None

    def waiting(self, limit: int = 100) -> list[QueuedDuplicate]:
        return waiting_pairs(self._cache.review, limit)

    def scan(self) -> DuplicateScan:
        """Scan the whole cache for pairs (seconds for 100,000 records)."""
        return self._finder.scan(self._cache.records.scan())

    async def decide(self, pair: DuplicatePair, decision: DuplicateDecision, staff_id: str) -> DecisionResult:
        if self._review is None:
            return DecisionResult(status=DecisionStatus.FAILED, message="no server is configured to send decisions to")
        return await self._review.decide(pair, decision, staff_id)

    async def send_pending(self) -> int:
        return await self._review.send_pending() if self._review is not None else 0


def desk_opener(services: KioskServices) -> Callable[[], DuplicateDesk | None]:
    """Builds the app's desk on first use: on its cache (None without one), deciding through its lookup service."""

    def opened() -> DuplicateDesk | None:
        cache = services.cache.get()
        return None if cache is None else DuplicateDesk(cache, services.lookup.get())

    return opened
