"""`HospitalCache`: this kiosk's cache and the hospital's shared one as one cache."""

from __future__ import annotations

from offline_cache.cache import OfflineCache
from offline_cache.hospital.activity import HospitalActivity
from offline_cache.hospital.link import SharedLink, SharedRunner
from offline_cache.hospital.outbox import HospitalOutbox
from offline_cache.hospital.records import HospitalRecords
from offline_cache.hospital.review import HospitalReview
from offline_cache.stats import CacheStats, SharedState


class HospitalCache:
    """This kiosk's cache and the hospital's shared one as one cache: `records`, `outbox`, figures, purge, close."""

    def __init__(self, local: OfflineCache, link: SharedLink) -> None:
        self.local = local
        self.link = link
        shared = SharedRunner(link)
        self.records = HospitalRecords(local, shared)
        self.outbox = HospitalOutbox(local, shared)
        self.activity = HospitalActivity(local, shared)
        self.review = HospitalReview(local, shared)
        self._shared = shared

    @property
    def path(self) -> object:
        return self.local.path

    def shared_state(self) -> SharedState:
        stats = self._shared.run(lambda c: c.stats())
        return SharedState(
            state=self.link.state,
            where=self.link.where,
            problem=self.link.problem,
            records=None if stats is None else stats.records,
            outbox=None if stats is None else stats.outbox,
        )

    def stats(self) -> CacheStats:
        """This kiosk's cache's figures, with the shared cache's state beside them."""
        return self.local.stats().model_copy(update={"hospital_cache": self.shared_state()})

    def purge(self, all: bool = False, *, outbox: bool = False) -> int:
        """This kiosk's cache as `OfflineCache.purge`; the shared one only loses what expired (everything else is
        the hospital's, not one kiosk's, to delete)."""
        count = self.local.purge(all, outbox=outbox)
        return count + (self._shared.run(lambda c: c.purge()) or 0)

    def close(self) -> None:
        self.records.close()
        self.link.close()
        self.local.close()

    def __enter__(self) -> HospitalCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
