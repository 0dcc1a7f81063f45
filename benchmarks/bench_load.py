"""Load: many kiosks at once against one sandbox on loopback, each doing what a desk does, for a bounded time.

Every simulated kiosk is a real `LookupService` with its own encrypted `OfflineCache` and outbox, in one asyncio
loop; the sandbox runs in its own process (as the coordination server would), on 127.0.0.1 only. A kiosk repeats:
wait a think time (exponential, mean `THINK_S`: a clerk at full speed; a real desk is far slower), then one action
drawn from the mix below, then deliver its outbox (the audit events) to the server.

    scan of a chip ID card (CCCD QR)  40 %   identify + $summary + verify + cache + audit
    typed BHXH number                 10 %
    demographic search ($match)       20 %   name, birth date, sex, province of a real person
    open a chosen patient's summary   15 %
    today's appointments + check-in   15 %   check-in when one is booked
Lobby kiosks (one in five) only scan and check in: the server refuses them anything clinical.

Figures: actions per second, latency p50/p95/p99 of the actions (the outbox delivery is timed apart), errors (an
action the server failed: `offline`, answered from the cache, or an exception), and lost audit events: the ids the
kiosks' outboxes accepted that the server's database does not hold once every outbox has been delivered.

FULL: 50 kiosks, 60 s, 1,000,000 patients (the run's shared database). SMOKE: 10 kiosks, 10 s, 5,000 patients.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import random
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.report import Figure, Size
from benchmarks.shared import SHARE, shared_sandbox_db, shared_sandbox_process
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier, LookupOutcome, LookupSource, LookupStatus
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import OfflineCache
from sandbox.synthetic import clinical
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson, generate_people
from scanners.payloads import interpret
from testkit.outbox import RecordingOutbox

NAME = "load"
SEED: Final = 1
THINK_S: Final = 1.0
P95_FLOOR_MS: Final = 300.0
DRAIN_S: Final = 90.0
SAMPLE: Final = 20_000
"""People drawn from the population; at 50 kiosks x 60 s few are looked up twice, as at a real hospital."""
MIX: Final = (("scan", 40), ("bhxh", 10), ("search", 20), ("open", 15), ("check-in", 15))
LOBBY_MIX: Final = (("scan", 60), ("check-in", 40))


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a load run is."""

    population: int
    kiosks: int
    seconds: float
    warmup_s: float
    """Desks come online one by one during the warm-up; nothing is measured before it ends."""


PLANS: Final = {Size.FULL: Plan(1_000_000, 50, 60.0, 10.0), Size.SMOKE: Plan(5_000, 10, 10.0, 3.0)}


@dataclass
class Tally:
    """What every kiosk measured."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    delivery_ms: list[float] = field(default_factory=list)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass(frozen=True, slots=True)
class People:
    """The people the kiosks look up: a random sample of the population, drawn in one pass of the generator."""

    everyone: tuple[SyntheticPerson, ...]
    with_documents: tuple[SyntheticPerson, ...]

    @classmethod
    def sample(cls, population: int, size: int, seed: int) -> People:
        wanted = set(random.Random(seed).sample(range(population), min(size, population)))
        chosen = tuple(p for p in generate_people(population, SEED) if p.index in wanted)
        return cls(chosen, tuple(p for p in chosen if clinical.has_documents(p.index, SEED, SHARE)))


class Kiosk:
    """One simulated desk."""

    def __init__(self, service: LookupService, trust: TrustList, people: People, rng: random.Random) -> None:
        self.service = service
        self.trust = trust
        self.people = people
        self.rng = rng
        self.lobby = service.config.mode == "lobby"

    def _person(self, with_documents: bool = False) -> SyntheticPerson:
        return self.rng.choice(self.people.with_documents if with_documents else self.people.everyone)

    def _action(self) -> str:
        mix = LOBBY_MIX if self.lobby else MIX
        return self.rng.choices([m for m, _ in mix], weights=[w for _, w in mix])[0]

    async def act(self, action: str) -> str:
        """Run one action; its result word (an outcome status, or a check-in result)."""
        service = self.service
        if action == "scan":
            scan = interpret(cccd_qr_text(self._person()), format="QRCode", decoder="zxing-cpp", trust=self.trust)
            return _word(await service.by_scan(scan))
        if action == "bhxh":
            person = self._person()
            identifier = Identifier(system=DEFAULT_TABLE.system(IdentifierKind.BHYT), value=person.bhxh)
            return _word(await service.by_identifier(identifier))
        if action == "search":
            return _word(await service.by_demographics(self._person().demographics()))
        if action == "open":
            return _word(await service.open_patient(self._person(with_documents=True).patient_id))
        person = self._person(with_documents=True)
        booked = [a for a in await service.appointments_today(person.patient_id) if a.status == "booked"]
        if not booked:
            return "no-appointment"
        return (await service.check_in(booked[0].id)).status


def _word(outcome: LookupOutcome) -> str:
    if outcome.status is LookupStatus.OFFLINE or outcome.source is LookupSource.CACHE:
        return "error"
    return outcome.status.value


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, result


async def _drive(kiosk: Kiosk, until: float, measure_from: float, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    # Desks come online one by one over the warm-up, not all in the same millisecond.
    await asyncio.sleep(kiosk.rng.uniform(0, max(0.0, measure_from - loop.time() - 2 * THINK_S)))
    while True:
        await asyncio.sleep(kiosk.rng.expovariate(1 / THINK_S))
        if loop.time() >= until:
            return
        action = kiosk._action()
        try:
            elapsed, word = await _timed(functools.partial(kiosk.act, action))
        except Exception as exc:
            elapsed, word = 0.0, f"exception {type(exc).__name__}"
        delivered, _ = await _timed(kiosk.service.flush_outbox)
        if loop.time() < measure_from:
            continue  # the first actions open connections and take tokens: once a day for a real desk
        tally.outcomes[f"{action}: {word}"] += 1
        if word in ("error", "failed") or word.startswith("exception"):
            tally.errors[action] += 1
        else:
            tally.latencies[action].append(elapsed)
        tally.delivery_ms.append(delivered)


def _stored_audit_ids(db: Path, wanted: set[str]) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM audit_events") if row[0] in wanted}
    finally:
        conn.close()


async def _load(
    plan: Plan, work: Path, base_url: str, trust_path: Path, people: People
) -> tuple[Tally, set[str], int, float]:
    trust = TrustList.load(trust_path)
    modes = ("er", "reception", "er", "reception", "lobby")
    caches: list[OfflineCache] = []
    kiosks: list[Kiosk] = []
    outboxes: list[RecordingOutbox] = []
    for number in range(plan.kiosks):
        mode = modes[number % len(modes)]
        cache = OfflineCache.open(
            work / f"kiosk-{number}",
            key_file=work / f"kiosk-{number}.key",
            ttl_seconds=3600.0,
            clinical_allowed=mode != "lobby",
        )
        outbox = RecordingOutbox(cache.outbox)
        config = ServerConfig(
            base_url=base_url, client_id=f"demo-{mode}", client_secret=f"demo-{mode}", timeout_s=5.0, mode=mode
        )
        service = LookupService(config, trust=trust, cache=cache.records, outbox=outbox)
        caches.append(cache)
        outboxes.append(outbox)
        kiosks.append(Kiosk(service, trust, people, random.Random(1000 + number)))
    tally = Tally()
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + plan.warmup_s
    until = measure_from + plan.seconds
    try:
        await asyncio.gather(*(_drive(k, until, measure_from, tally) for k in kiosks))
    finally:
        for kiosk in kiosks:
            await kiosk.service.aclose()
    try:
        undelivered = await _drain(kiosks, caches, outboxes)
    finally:
        for cache in caches:
            cache.close()
    accepted: set[str] = set().union(*(o.audit_ids for o in outboxes))
    return tally, accepted, undelivered, plan.seconds


async def _drain(kiosks: list[Kiosk], caches: list[OfflineCache], outboxes: list[RecordingOutbox]) -> int:
    """Deliver what the outboxes still hold (deliveries that failed during the run wait out their backoff), as a
    kiosk restarted after the rush would; the number of messages still undelivered after `DRAIN_S`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_S
    later = [
        LookupService(k.service.config, trust=k.trust, cache=c.records, outbox=o)
        for k, c, o in zip(kiosks, caches, outboxes, strict=True)
    ]
    try:
        while True:
            await asyncio.gather(*(service.flush_outbox() for service in later))
            waiting = sum(
                n for cache in caches for state, n in cache.stats().outbox.items() if state in ("queued", "sent")
            )
            if waiting == 0 or loop.time() > deadline:
                failed = sum(cache.stats().outbox.get("failed", 0) for cache in caches)
                return waiting + failed
            await asyncio.sleep(1.0)
    finally:
        for service in later:
            await service.aclose()


def _figures(
    plan: Plan, size: Size, tally: Tally, accepted: set[str], stored: set[str], undelivered: int
) -> list[Figure]:
    every = [ms for values in tally.latencies.values() for ms in values]
    actions = len(every) + sum(tally.errors.values())
    per_action = ", ".join(
        f"{name} p95 {quantile(values, 0.95):.0f} ms (n={len(values)})"
        for name, values in sorted(tally.latencies.items())
    )
    where = f"{plan.kiosks} kiosks, {plan.population:,} patients, {plan.seconds:.0f} s, think time mean {THINK_S} s"
    floor = P95_FLOOR_MS if size is Size.FULL else None
    lost = len(accepted - stored)
    return [
        Figure(
            benchmark=NAME,
            name=f"throughput, {plan.kiosks} kiosks",
            value=actions / plan.seconds,
            unit="actions/s",
            better="higher",
            note=f"{where}; {len(tally.delivery_ms)} outbox deliveries besides",
        ),
        Figure(benchmark=NAME, name=f"action latency p50, {plan.kiosks} kiosks", value=quantile(every, 0.5), unit="ms"),
        Figure(
            benchmark=NAME,
            name=f"action latency p95, {plan.kiosks} kiosks",
            value=quantile(every, 0.95),
            unit="ms",
            floor=floor,
            note=per_action,
        ),
        Figure(
            benchmark=NAME, name=f"action latency p99, {plan.kiosks} kiosks", value=quantile(every, 0.99), unit="ms"
        ),
        Figure(
            benchmark=NAME,
            name="audit delivery (outbox flush) p95",
            value=quantile(tally.delivery_ms, 0.95),
            unit="ms",
        ),
        Figure(
            benchmark=NAME,
            name="errors",
            value=float(sum(tally.errors.values())),
            unit="actions",
            floor=0.0,
            note=f"of {actions}; " + ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items())),
        ),
        Figure(
            benchmark=NAME,
            name="lost audit events",
            value=float(lost),
            unit="events",
            floor=0.0,
            note=f"{len(accepted)} accepted by the kiosks' outboxes, {len(accepted & stored)} stored by the server, "
            f"{undelivered} still queued or failed",
        ),
    ]


def run(size: Size) -> list[Figure]:
    plan = PLANS[size]
    db = shared_sandbox_db(plan.population, SEED)
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as folder,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # The people are drawn while the server builds its `$match` engine in its own process.
        drawing = pool.submit(People.sample, plan.population, SAMPLE, 2026)
        sandbox = shared_sandbox_process(db, plan.population, SEED)
        people = drawing.result()
        tally, accepted, undelivered, _ = asyncio.run(
            _load(plan, Path(folder), sandbox.base_url, sandbox.trust_list_path, people)
        )
        stored = _stored_audit_ids(db, accepted)
    return _figures(plan, size, tally, accepted, stored, undelivered)
