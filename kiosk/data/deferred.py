"""Parts built on first use, so the kiosk takes input before the HTTP, JOSE and crypto stacks are loaded.

`kiosk run` must be ready for a scan within a second of starting; importing the lookup service (httpx, JOSE,
the matching engine), the scanners' parsers and the trust list's keys, and opening the encrypted cache, cost a good
part of that. The app starts a named thread worker
that calls `warm()` right after the first screen is up, so by the time a person has presented a card the service is
built; a scan that comes sooner simply waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kiosk.data.ports import (
    CheckInView,
    PatientLookup,
    ProgressSink,
    ScanReader,
    ServiceStatusView,
    WedgeInput,
    WedgeRun,
)
from lookup.domain.model import Appointment, Demographics, Identifier, LookupOutcome, ScanResult

if TYPE_CHECKING:
    from lookup.trust.trust_list import TrustList


class Built:
    """What the factory returns: the service and, when one could be opened, the offline cache."""

    def __init__(self, service: PatientLookup, cache: Any | None) -> None:
        self.service = service
        self.cache = cache


class DeferredLookup:
    """A `PatientLookup` that builds the real one (and opens the cache) once, on first use or on `warm()`."""

    def __init__(self, build: Callable[[], Built]) -> None:
        self._build = build
        self._built: Built | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._get()

    def _get(self) -> Built:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    @property
    def built(self) -> Built | None:
        return self._built

    def cache_stats(self) -> Any | None:
        """The cache's counts for the admin screen, or None when the kiosk runs without a cache."""
        cache = self._get().cache
        return cache.stats() if cache is not None else None

    async def by_scan(self, scan: ScanResult, *, progress: ProgressSink | None = None) -> LookupOutcome:
        return await self._get().service.by_scan(scan, progress=progress)

    async def by_identifier(self, identifier: Identifier, *, progress: ProgressSink | None = None) -> LookupOutcome:
        return await self._get().service.by_identifier(identifier, progress=progress)

    async def by_demographics(self, query: Demographics, *, progress: ProgressSink | None = None) -> LookupOutcome:
        return await self._get().service.by_demographics(query, progress=progress)

    async def open_patient(self, patient_id: str, *, progress: ProgressSink | None = None) -> LookupOutcome:
        return await self._get().service.open_patient(patient_id, progress=progress)

    async def break_glass(self, patient_id: str, reason: str, *, progress: ProgressSink | None = None) -> LookupOutcome:
        return await self._get().service.break_glass(patient_id, reason, progress=progress)

    async def appointments_today(self, patient_id: str) -> list[Appointment]:
        return await self._get().service.appointments_today(patient_id)

    async def check_in(self, appointment_id: str) -> CheckInView:
        return await self._get().service.check_in(appointment_id)

    async def status(self) -> ServiceStatusView:
        return await self._get().service.status()

    async def flush_outbox(self) -> int:
        return await self._get().service.flush_outbox()

    async def aclose(self) -> None:
        if self._built is not None:
            await self._built.service.aclose()

    def close_cache(self) -> None:
        built = self._built
        close = getattr(built.cache, "close", None) if built is not None else None
        if callable(close):
            close()


class DeferredCache:
    """The cache as the admin screen sees it, through the deferred service that opened it."""

    def __init__(self, lookup: DeferredLookup) -> None:
        self._lookup = lookup

    def stats(self) -> Any:
        return self._lookup.cache_stats()


class DeferredWedge:
    """The wedge detector, loaded with the scanners' parsers on the first key or by the warm-up, not at start."""

    def __init__(self, build: Callable[[], WedgeInput]) -> None:
        self._build = build
        self._built: WedgeInput | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._get()

    def _get(self) -> WedgeInput:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def feed(self, char: str, timestamp: float) -> Sequence[WedgeRun]:
        return self._get().feed(char, timestamp)

    def poll(self, timestamp: float) -> Sequence[WedgeRun]:
        return self._built.poll(timestamp) if self._built is not None else ()

    @property
    def pending(self) -> bool:
        return self._built is not None and self._built.pending


class DeferredReader:
    """The scanners' payload reader, loaded on the first scan or by the warm-up."""

    def __init__(self, build: Callable[[], ScanReader]) -> None:
        self._build = build
        self._built: ScanReader | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._get()

    def _get(self) -> ScanReader:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def read(self, text: str, *, decoder: str, format: str = "text") -> ScanResult:
        return self._get().read(text, decoder=decoder, format=format)


class DeferredTrust:
    """The pinned trust list, parsed (keys imported) on first use; `source` names the file from the start."""

    def __init__(self, source: str, load: Callable[[], TrustList]) -> None:
        self.source = source
        self._load = load
        self._loaded: TrustList | None = None
        self._lock = threading.Lock()

    def get(self) -> TrustList:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def __len__(self) -> int:
        return len(self.get())
