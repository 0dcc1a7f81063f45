"""Builds the kiosk from its settings: trust list -> offline cache -> lookup service -> scanners -> app.

`build_app(settings, ...)` is the one function the command line (`kiosk run`, `kiosk serve`, `kiosk demo`), the
tests and the benchmark use, so what is tested is what runs. Heavy parts load late: OpenCV only in the camera's
own thread; the lookup service (HTTP, JOSE, matching), the scanners' parsers and the encrypted cache on first use
or in a thread once the first screen is up (`kiosk.services.lazy`), so the kiosk takes a scan within a second.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from kiosk.activity import Clock, system_clock
from kiosk.demo_hint import DemoHint
from kiosk.output import CommandError
from kiosk.services.cache import open_cache_or_none
from kiosk.services.lazy import Lazy
from kiosk.services.ports import KioskServices
from kiosk.services.scanning import PayloadReader, camera_starter, wedge_detector
from kiosk.services.trust import TrustFile
from kiosk.settings import Settings
from lookup import PLAIN_HTTP_REFUSED, IdentifierSystems, plain_http_off_machine

if TYPE_CHECKING:
    from kiosk.app import KioskApp
    from kiosk.services.cache import KioskCache
    from lookup import LookupService, TrustList


def lookup_service(
    settings: Settings,
    trust: TrustList,
    systems: IdentifierSystems,
    cache: KioskCache | None,
    *,
    timeout_s: float | None = None,
) -> LookupService:
    """The lookup service for these settings, on `cache` when one is open; the app and `kiosk lookup` share it."""
    from lookup import LookupService, ServerConfig

    require_encryption(settings)
    config = ServerConfig(
        base_url=str(settings.server),
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        mode=settings.mode.value,
        facility_code=settings.facility_code,
        allow_insecure_http=settings.insecure_http,
        **({"timeout_s": timeout_s} if timeout_s is not None else {}),
    )
    return LookupService(
        config,
        trust=trust,
        cache=cache.records if cache is not None else None,
        outbox=cache.outbox if cache is not None else None,
        systems=systems,
        audit_journal=settings.audit_journal_dir,
        activity=cache.activity if cache is not None else None,
        kiosk_name=settings.kiosk_name,
        review=cache.review if cache is not None else None,
    )


def require_encryption(settings: Settings) -> None:
    """Refuse plain http to a server off this machine unless the operator allowed it (`KIOSK_INSECURE_HTTP`)."""
    if settings.server is not None and plain_http_off_machine(str(settings.server)) and not settings.insecure_http:
        raise CommandError(PLAIN_HTTP_REFUSED)


def build_services(settings: Settings) -> KioskServices:
    """The real services for these settings. Raises `CommandError` for a setting the kiosk cannot start with.

    The trust-list file is read and checked now (a broken one stops the kiosk before its first screen); its keys, the
    scanners' parsers, the cache and the lookup service are built on first use or by the app's warm-up.
    """
    if settings.server is None:
        raise CommandError("no server configured: set KIOSK_SERVER to the FHIR base URL")
    require_encryption(settings)
    trust_file = TrustFile.read(settings.trust_list)
    systems = IdentifierSystems(settings.identifier_systems)
    trust = Lazy(trust_file.trust_list)
    cache = Lazy(lambda: open_cache_or_none(settings))
    reader = Lazy(lambda: PayloadReader(trust.get(), systems))
    return KioskServices(
        lookup=Lazy(lambda: lookup_service(settings, trust.get(), systems, cache.get())),
        reader=reader,
        wedge=Lazy(wedge_detector),
        trust=trust,
        cache=cache,
        camera=camera_starter(settings, reader),
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
    with suppress(Exception):
        services.close_cache()
