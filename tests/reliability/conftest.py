"""The whole stack for the fault tests: the real sandbox on 127.0.0.1, a fault proxy in front of it, the real
encrypted offline cache, and `LookupService` wired as the kiosk wires it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lookup.domain.model import LookupOutcome, ScanResult
from lookup.service.lookup_service import LookupService
from lookup.service.results import Progress
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import OfflineCache
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic import clinical
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson, person_at
from scanners.payloads import interpret
from testkit.outbox import RecordingOutbox
from tests.reliability.proxy import FaultProxy

POPULATION = 400
SEED = 11
SHARE = 0.4


def consenting_people(count: int) -> list[SyntheticPerson]:
    """People of the sandbox who have shared documents and an active consent (a full summary is released)."""
    found: list[SyntheticPerson] = []
    for index in range(POPULATION):
        if clinical.has_documents(index, SEED, SHARE) and clinical.has_consent(index, SEED):
            found.append(person_at(index, SEED))
            if len(found) == count:
                return found
    raise AssertionError("the sandbox population has too few consenting people with documents")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    folder = tmp_path_factory.mktemp("reliability-sandbox")
    config = SandboxConfig(
        db_path=folder / "sandbox.sqlite", population=POPULATION, seed=SEED, document_share=SHARE, demo_clients=True
    )
    with start_sandbox(config, trust_list_path=folder / "trust.json") as running:
        yield running


@pytest.fixture
def proxy(sandbox: RunningSandbox) -> Iterator[FaultProxy]:
    with FaultProxy(f"http://127.0.0.1:{sandbox.port}") as running:
        yield running


class Clock:
    """The cache's clock: the real time plus however far the test moved it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Kiosk:
    """One kiosk's parts: its service, its cache, and the outbox that remembers what it accepted."""

    service: LookupService
    cache: OfflineCache
    outbox: RecordingOutbox
    trust: TrustList
    clock: Clock

    def card(self, person: SyntheticPerson) -> ScanResult:
        """What the scanner makes of the person's chip ID card."""
        return interpret(cccd_qr_text(person), format="QRCode", decoder="zxing-cpp", trust=self.trust)

    async def scan(self, person: SyntheticPerson, progress: Progress | None = None) -> LookupOutcome:
        return await self.service.by_scan(self.card(person), progress=progress)


KioskFactory = Callable[..., Kiosk]


@pytest.fixture
async def make_kiosk(sandbox: RunningSandbox, proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[KioskFactory]:
    made: list[Kiosk] = []

    def make(
        *, trust: TrustList | None = None, cache: OfflineCache | None = None, base_url: str | None = None, **config: Any
    ) -> Kiosk:
        settings: dict[str, Any] = {"client_id": "demo-er", "client_secret": "demo-er", "timeout_s": 0.5}
        settings.update(config)
        pinned = trust or TrustList.load(sandbox.trust_list_path)
        clock = Clock()
        folder = tmp_path / f"cache-{len(made)}"
        opened = cache or OfflineCache.open(
            folder, key_file=folder.with_suffix(".key"), ttl_seconds=3600.0, clock=clock
        )
        outbox = RecordingOutbox(opened.outbox)
        service = LookupService(
            ServerConfig(base_url=base_url or proxy.base_url("/fhir"), **settings),
            trust=pinned,
            cache=opened.records,
            outbox=outbox,
        )
        kiosk = Kiosk(service, opened, outbox, pinned, clock)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        await kiosk.service.aclose()
        kiosk.cache.close()


def stored_kiosk_audits(sandbox: RunningSandbox, ids: Sequence[str] | set[str]) -> set[str]:
    """Which of these AuditEvent ids the sandbox holds."""
    return {event_id for event_id in ids if sandbox.state.store.audit(event_id) is not None}


def run_cli(
    env_folder: Path, server: str, trust: Path, *args: str, timeout: float = 60, stdin: str | None = None
) -> tuple[int, Any, str]:
    """`kiosk lookup ... --json` as a separate process, `stdin` on its standard input (where `--qr-text-file -`
    reads a code's text); its exit code, its one JSON line, its standard error."""
    env = {
        **os.environ,
        "KIOSK_SERVER": server,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(trust),
        "KIOSK_CACHE_DIR": str(env_folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(env_folder / "cache.key"),
        "KIOSK_CONFIG_FILE": str(env_folder / "none.toml"),
        "KIOSK_MODE": "er",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "lookup", *args, "--json", "--timeout", "0.5"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        input=stdin,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    return done.returncode, json.loads(lines[0]), done.stderr
