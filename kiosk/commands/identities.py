"""What `kiosk unknown`, `kiosk link` and `kiosk unlink` share: the signed-in lookup service of the settings, and the
JSON shape of a temporary identity.

The staff member of `KIOSK_STAFF_ID` / `KIOSK_STAFF_PIN` is signed in first, as for `kiosk lookup`; the server's audit
of every registration, link and undo then names them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from kiosk.output import CommandError
from kiosk.settings import Mode, Settings, load_settings

if TYPE_CHECKING:
    from lookup import LookupService
    from lookup.domain.temporary import IdentityLink, TemporaryPatient

FLUSH_TIMEOUT_S = 3.0


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help="FHIR base URL (default: KIOSK_SERVER)")
    p.add_argument("--mode", choices=[m.value for m in Mode])
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the offline cache")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(server=args.server, mode=Mode(args.mode) if args.mode else None)


@contextlib.asynccontextmanager
async def signed_in_service(args: argparse.Namespace, settings: Settings) -> AsyncIterator[LookupService]:
    """The lookup service of these settings with its cache, the staff member signed in; closed on the way out."""
    from kiosk.commands.lookup import _sign_in
    from kiosk.services.cache import open_cache_or_none
    from kiosk.services.trust import TrustFile
    from kiosk.wiring import lookup_service, require_encryption
    from lookup import IdentifierSystems

    if settings.server is None:
        raise CommandError("no server configured: set KIOSK_SERVER or pass --server")
    require_encryption(settings)
    trust = TrustFile.read(settings.trust_list).trust_list()
    cache = None if args.no_cache else open_cache_or_none(settings)
    systems = IdentifierSystems(settings.identifier_systems)
    service = lookup_service(settings, trust, systems, cache, timeout_s=args.timeout)
    try:
        await _sign_in(service, settings, "nothing was registered, linked or unlinked")
        yield service
    finally:
        await service.aclose()
        if cache is not None:
            cache.close()


async def flush(service: LookupService) -> None:
    """Deliver what waits in the outbox (queued registrations among it); what cannot go now stays queued."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.flush_outbox(), FLUSH_TIMEOUT_S)


def temporary_json(patient: TemporaryPatient) -> dict[str, Any]:
    """A temporary identity as the commands print it: the temporary identifier first in `identifiers`."""
    from lookup.domain.temporary import TEMPORARY_SYSTEM, printed_number

    return {
        "identifiers": [{"system": TEMPORARY_SYSTEM, "value": patient.number}],
        "number": patient.number,
        "printed": printed_number(patient.number),
        "alias": patient.alias,
        "arrival": patient.arrival.isoformat(),
        "id": patient.patient_id,
    }


def history_json(history: tuple[IdentityLink, ...]) -> list[dict[str, Any]]:
    return [step.model_dump(mode="json") for step in history]
