"""What `kiosk.wiring` hands the app (`KioskServices`), and the one shape the app defines for itself (the camera).

The app is typed against the real classes (the lookup service, the wedge detector, the trust list, the cache),
imported for type checking only: importing them for real would load HTTP, JOSE and the scanners' parsers before
the first screen. Each is built on first use, or by `warm_up()` once the first screen is up (`kiosk.services.lazy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from lookup import ScanResult

if TYPE_CHECKING:
    from kiosk.services.cache import KioskCache
    from kiosk.services.lazy import Lazy
    from kiosk.services.scanning import PayloadReader
    from lookup import LookupService, TrustList
    from scanners.wedge import WedgeDetector


class CameraHandle(Protocol):
    """A running camera, as the app holds it: all it may do is stop it, which releases the device.

    Narrower than the scanners' `CameraScanner` on purpose: its threads, decoder chain and figures belong to the
    camera's own threads, and a test may start the camera on recorded frames instead.
    """

    def stop(self) -> None: ...


CameraStarter = Callable[[Callable[[ScanResult], None], Callable[[str], None]], CameraHandle]
"""Starts the camera in its own thread: the first callback gets each code read, the second each status change."""


@dataclass(slots=True)
class KioskServices:
    """Everything the app is given by `kiosk.wiring`: the lookup service, the scanners, the trust list and the cache."""

    lookup: Lazy[LookupService]
    reader: Lazy[PayloadReader]
    """Reads scanned, pasted or typed text into a `ScanResult`."""
    wedge: Lazy[WedgeDetector]
    """Tells a keyboard-wedge scanner's burst from a person typing."""
    trust: Lazy[TrustList]
    cache: Lazy[KioskCache | None]
    """The offline cache; None inside when it cannot be opened, and the kiosk works online only."""
    camera: CameraStarter | None = None

    def warm_up(self) -> None:
        """Build what was deferred to keep start-up fast; run in a thread once the first screen is up."""
        self.wedge.warm()
        self.reader.warm()
        self.lookup.warm()

    def close_cache(self) -> None:
        """Close the cache file if it was opened (the app closes the lookup service itself when it ends)."""
        cache = self.cache.built
        if cache is not None:
            cache.close()
