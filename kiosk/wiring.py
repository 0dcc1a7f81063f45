"""Builds the kiosk from its settings: trust list -> offline cache -> lookup service -> scanners -> app.

`build_app(settings, ...)` is the one function the command line (`kiosk run`, `kiosk serve`, `kiosk demo`), the
tests and the benchmark use, so what is tested is what runs. Heavy parts load late: OpenCV only in the camera's
own thread; the lookup service (HTTP, JOSE, matching) and the encrypted cache in a thread once the first screen is
up (`kiosk.data.deferred`), so the kiosk takes a scan within a second of starting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from kiosk.data.activity import Clock, system_clock
from kiosk.data.deferred import Built, DeferredCache, DeferredLookup, DeferredReader, DeferredTrust, DeferredWedge
from kiosk.data.hint import DemoHint
from kiosk.data.ports import CameraHandle, CameraStarter, KioskServices, ScanReader, WedgeInput
from kiosk.output import CommandError
from kiosk.settings import Mode, Settings
from lookup.domain.identifiers import IdentifierSystems
from lookup.domain.model import ScanResult

if TYPE_CHECKING:
    from kiosk.app import KioskApp
    from lookup.service.lookup_service import LookupService
    from lookup.trust.trust_list import TrustList
    from offline_cache import OfflineCache
    from scanners.decoders import Decoded
    from scanners.sources import FrameSource

log = logging.getLogger(__name__)


def load_trust(settings: Settings) -> TrustList:
    """The pinned trust list; without one every signature shows as `unknown-signer`, which the admin screen says."""
    from lookup.trust.trust_list import TrustList, TrustListError

    if settings.trust_list is None:
        return TrustList.empty()
    try:
        return TrustList.load(settings.trust_list)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None


def check_trust_file(settings: Settings) -> None:
    """Fail at start, in words, on a trust list that is missing or no JWKS; its keys are read later."""
    path = settings.trust_list
    if path is None:
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: the trust list file does not exist") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: the trust list is not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise CommandError(f"{path}: the trust list is not a JWKS (no `keys` list)")


def open_cache(settings: Settings) -> OfflineCache | None:
    """The encrypted offline cache, or None when it cannot be opened: the kiosk then works online only."""
    try:
        from offline_cache import CacheError, OfflineCache
    except ImportError as exc:  # a broken install must not keep the kiosk from working online
        log.warning("offline cache unavailable, working online only: %s", type(exc).__name__)
        return None
    ttl_hours = settings.effective_ttl_hours
    try:
        return OfflineCache.open(
            settings.cache_dir,
            key_file=None if settings.cache_passphrase else settings.key_file,
            passphrase=settings.cache_passphrase.get_secret_value() if settings.cache_passphrase else None,
            ttl_seconds=max(ttl_hours, 1 / 60) * 3600,
            clinical_allowed=settings.mode is not Mode.LOBBY and ttl_hours > 0,
        )
    except (CacheError, OSError) as exc:
        log.warning("offline cache unavailable, working online only: %s", exc)
        return None


class PayloadReader:
    """The scanners' payload dispatcher behind the app's `ScanReader` port; keeps parts of multi-part health cards
    until the whole card has been scanned."""

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


def camera_starter(
    settings: Settings, reader: ScanReader, *, open_source: Callable[[], FrameSource] | None = None
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
            on_scan(reader.read(item.text, decoder=item.decoder, format=item.format))

        scanner = CameraScanner(decoded, camera=index or 0, open_source=open_source)
        scanner.start()
        on_status("ready")
        return scanner

    return start


def build_services(settings: Settings) -> KioskServices:
    """The real services for these settings. Raises `CommandError` for a setting the kiosk cannot start with.

    The trust list's keys, the scanners' parsers, the lookup service and the cache are built on first use or when
    the app warms them up after its first screen (see `kiosk.data.deferred`).
    """
    if settings.server is None:
        raise CommandError("no server configured: set KIOSK_SERVER to the FHIR base URL")
    check_trust_file(settings)
    systems = IdentifierSystems(settings.identifier_systems)
    trust = DeferredTrust(str(settings.trust_list or "—"), lambda: load_trust(settings))
    lookup = DeferredLookup(lambda: _lookup_service(settings, trust.get(), systems))
    reader = DeferredReader(lambda: PayloadReader(trust.get(), systems))
    wedge = DeferredWedge(_wedge_detector)

    def warm_up() -> None:
        wedge.warm()
        reader.warm()
        lookup.warm()

    return KioskServices(
        lookup=lookup,
        reader=reader,
        wedge=wedge,
        trust=trust,
        cache=DeferredCache(lookup),
        camera=camera_starter(settings, reader),
        warm_up=warm_up,
    )


def _wedge_detector() -> WedgeInput:
    from scanners.wedge import WedgeDetector

    return WedgeDetector()


def _lookup_service(settings: Settings, trust: TrustList, systems: IdentifierSystems) -> Built:
    cache = open_cache(settings)
    return Built(lookup_service(settings, trust, systems, cache), cache)


def lookup_service(
    settings: Settings,
    trust: TrustList,
    systems: IdentifierSystems,
    cache: OfflineCache | None,
    *,
    timeout_s: float | None = None,
) -> LookupService:
    """The lookup service for these settings, on `cache` when one is open; the app and `kiosk lookup` share it."""
    from lookup.service.lookup_service import LookupService
    from lookup.transport.config import ServerConfig

    config = ServerConfig(
        base_url=str(settings.server),
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        mode=settings.mode.value,
        facility_code=settings.facility_code,
        **({"timeout_s": timeout_s} if timeout_s is not None else {}),
    )
    return LookupService(
        config,
        trust=trust,
        cache=cache.records if cache is not None else None,
        outbox=cache.outbox if cache is not None else None,
        systems=systems,
    )


def build_app(
    settings: Settings,
    *,
    services: KioskServices | None = None,
    clock: Clock = system_clock,
    hint: DemoHint | None = None,
) -> KioskApp:
    """The kiosk app for these settings: the same for `kiosk run`, `kiosk serve`, `kiosk demo` and the tests."""
    from kiosk.app import KioskApp

    return KioskApp(settings, services or build_services(settings), clock=clock, hint=hint)


def close_services(services: KioskServices) -> None:
    """Release what `build_services` opened that the app does not close itself (the cache file)."""
    if isinstance(services.lookup, DeferredLookup):
        with suppress(Exception):
            services.lookup.close_cache()
