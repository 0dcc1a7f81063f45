"""The scanners as the app uses them: typed or scanned text read into a `ScanResult`, the camera on its own threads,
and the keyboard-wedge detector. The scanners' parsers (and OpenCV, for the camera) are imported only when used."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.services.lazy import Lazy
from kiosk.services.ports import CameraHandle, CameraStarter
from kiosk.settings import Settings
from lookup import IdentifierSystems, ScanResult

if TYPE_CHECKING:
    from lookup import TrustList
    from scanners.decoders import Decoded
    from scanners.sources import FrameSource
    from scanners.wedge import WedgeDetector


class PayloadReader:
    """The scanners' payload dispatcher for the app; keeps the parts of a multi-part health card until the whole card
    has been scanned. Text that is no code the kiosk knows comes back as kind `unknown` (or raises `ValueError`);
    either way its message holds no patient data."""

    def __init__(self, trust: TrustList, systems: IdentifierSystems) -> None:
        from scanners.payloads import ShcChunks

        self._trust = trust
        self._systems = systems
        self._chunks = ShcChunks()

    def read(self, text: str, *, decoder: str, format: str = "text") -> ScanResult:
        from scanners.payloads import interpret
        from scanners.wedge import interpret_wedge

        if decoder in ("wedge", "paste"):
            # Typed-in text may carry a keyboard layout's or an input method's damage: the wedge reader repairs it.
            return interpret_wedge(text, trust=self._trust, systems=self._systems, chunks=self._chunks)
        return interpret(
            text, format=format, decoder=decoder, trust=self._trust, systems=self._systems, chunks=self._chunks
        )


def wedge_detector() -> WedgeDetector:
    """A keyboard-wedge detector (it tells a scanner's burst of keys from a person typing)."""
    from scanners.wedge import WedgeDetector

    return WedgeDetector()


def camera_starter(
    settings: Settings, reader: Lazy[PayloadReader], *, open_source: Callable[[], FrameSource] | None = None
) -> CameraStarter | None:
    """Starts the configured camera on its own threads; OpenCV is imported there, never at start-up.

    `open_source` replaces the capture device (a recorded clip, a test's frames); by default camera `settings.camera`.
    """
    index = settings.camera
    if index is None and open_source is None:
        return None

    def start(on_scan: Callable[[ScanResult], None], on_status: Callable[[str], None]) -> CameraHandle:
        from scanners.sources import CameraScanner

        def decoded(item: Decoded) -> None:
            on_scan(reader.get().read(item.text, decoder=item.decoder, format=item.format))

        scanner = CameraScanner(decoded, camera=index or 0, open_source=open_source)
        scanner.start()
        on_status("ready")
        return scanner

    return start
