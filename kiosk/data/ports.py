"""The shapes the app needs from the lookup service, the scanners and the cache, written as protocols.

The app is typed against these, not against the concrete classes, so each screen can be read (and tested) knowing
only what it asks of the world. `kiosk.wiring` hands in the real objects, which match these shapes structurally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lookup.domain.model import Appointment, Demographics, Identifier, LookupOutcome, ScanResult


class LookupStepView(Protocol):
    """One progress step of a running lookup (`LookupStep` of the lookup service)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def detail(self) -> str: ...


ProgressSink = Callable[[LookupStepView], None]


class CheckInView(Protocol):
    """The answer to a check-in (`CheckInResult`): checked-in, queued (offline) or failed."""

    @property
    def status(self) -> str: ...

    @property
    def message(self) -> str: ...


class ServiceStatusView(Protocol):
    """Whether the server answers, and what went wrong last (`ServiceStatus`)."""

    @property
    def online(self) -> bool: ...

    @property
    def server(self) -> str: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def breaker(self) -> str: ...

    @property
    def outbox_queued(self) -> int: ...

    @property
    def outbox_delivered(self) -> int: ...


class PatientLookup(Protocol):
    """What the app asks of `lookup.service.LookupService`. None of these raise for network or data faults."""

    async def by_scan(self, scan: ScanResult, *, progress: ProgressSink | None = None) -> LookupOutcome: ...

    async def by_identifier(self, identifier: Identifier, *, progress: ProgressSink | None = None) -> LookupOutcome: ...

    async def by_demographics(self, query: Demographics, *, progress: ProgressSink | None = None) -> LookupOutcome: ...

    async def open_patient(self, patient_id: str, *, progress: ProgressSink | None = None) -> LookupOutcome: ...

    async def break_glass(
        self, patient_id: str, reason: str, *, progress: ProgressSink | None = None
    ) -> LookupOutcome: ...

    async def appointments_today(self, patient_id: str) -> list[Appointment]: ...

    async def check_in(self, appointment_id: str) -> CheckInView: ...

    async def status(self) -> ServiceStatusView: ...

    async def flush_outbox(self) -> int: ...

    async def aclose(self) -> None: ...


class ScanReader(Protocol):
    """Turns scanned or typed text into a `ScanResult` (the scanners' payload parsers).

    Text that is no code the kiosk knows comes back as kind `unknown` (or raises `ValueError`); either way the
    message holds no patient data.
    """

    def read(self, text: str, *, decoder: str, format: str = "text") -> ScanResult: ...


class WedgeRun(Protocol):
    """A decided run of keys: `scan` (a scanner's burst) or `typed` (a person at the keyboard)."""

    @property
    def kind(self) -> str: ...

    @property
    def text(self) -> str: ...


class WedgeInput(Protocol):
    """Tells a keyboard-wedge scanner's burst from a person typing (the scanners' `WedgeDetector`)."""

    def feed(self, char: str, timestamp: float) -> Sequence[WedgeRun]:
        """Take one key (Enter as `\\r`); returns the runs this key completed."""
        ...

    def poll(self, timestamp: float) -> Sequence[WedgeRun]:
        """Runs completed by silence since the last key."""
        ...

    @property
    def pending(self) -> bool:
        """Whether keys are held back (so Enter belongs to the burst, not to a button)."""
        ...


class CacheView(Protocol):
    """The offline cache as the admin screen sees it: counts and states, never patient data."""

    def stats(self) -> Any: ...


class CameraHandle(Protocol):
    """A running camera source; stopping it releases the device."""

    def stop(self) -> None: ...


CameraStarter = Callable[[Callable[[ScanResult], None], Callable[[str], None]], CameraHandle]
"""Starts the camera in its own thread: the first callback gets each code read, the second each status change."""


class TrustView(Protocol):
    """The pinned trust list, for the admin screen."""

    source: str

    def __len__(self) -> int: ...


KeyRows = Sequence[tuple[str, str]]


class KioskServices:
    """Everything the app is given by `kiosk.wiring`: the lookup service, the scanners and the cache's view."""

    def __init__(
        self,
        *,
        lookup: PatientLookup,
        reader: ScanReader,
        wedge: WedgeInput,
        trust: TrustView,
        cache: CacheView | None = None,
        camera: CameraStarter | None = None,
        warm_up: Callable[[], None] | None = None,
    ) -> None:
        self.lookup = lookup
        self.reader = reader
        self.wedge = wedge
        self.trust = trust
        self.cache = cache
        self.camera = camera
        self.warm_up = warm_up
        """Builds what was deferred to keep start-up fast; run in a thread once the first screen is up."""
