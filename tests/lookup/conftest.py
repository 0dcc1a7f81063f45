"""Fixtures of the lookup tests: a misbehaving FHIR server on loopback, and services pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from tests.lookup.fhirserver import Faulty, serve

CARD = "001190012345"
OTHER = "001190054321"


@pytest.fixture
def faulty() -> Iterator[tuple[Faulty, str]]:
    app = Faulty()
    app.add("p1", CARD)
    app.add("p2", OTHER, consent=False)
    with serve(app) as base:
        yield app, base


@pytest.fixture
def open_cache(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Opens the real encrypted offline cache in this test's folder (closed at the end)."""
    from offline_cache import OfflineCache

    opened: list[Any] = []

    def make(**kw: Any) -> Any:
        cache = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600.0, **kw)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


ServiceFactory = Callable[..., LookupService]


@pytest.fixture
async def make_service() -> AsyncIterator[ServiceFactory]:
    made: list[LookupService] = []

    def make(base: str, app: Faulty | None = None, *, cache: Any = None, **config: Any) -> LookupService:
        settings: dict[str, Any] = {"client_id": "demo-er", "client_secret": "demo-er", "timeout_s": 0.5}
        settings.update(config)
        service = LookupService(
            ServerConfig(base_url=base, **settings),
            trust=app.trust() if app is not None else Faulty().trust(),
            cache=cache.records if cache is not None else None,
            outbox=cache.outbox if cache is not None else None,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()
