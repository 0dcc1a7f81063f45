"""Lookup benchmark: the text of a scanned CCCD card -> a verified, consented summary, over loopback HTTP against the
sandbox; then the same lookups answered by the offline cache with the server stopped; then the same again against
the sandbox with `$match` and `$summary` switched off (the "any FHIR server" path, no floor: for comparison).

Each timed lookup is the whole path a clerk waits for: payload parsing, identifier search, `$summary`, signature
verification of every document, the encrypted cache write and the audit event into the outbox.

SMOKE: 2,000 patients, 40 lookups. FULL: 1,000,000 patients (the run's shared database, `benchmarks.shared`),
300 lookups. The server runs in a child process; the plain server (no `$match`/`$summary`) runs in this one.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, Size
from benchmarks.shared import SHARE, sandbox_process, shared_sandbox_db
from lookup.domain.model import LookupOutcome, LookupSource, LookupStatus, ScanResult
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import start_sandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson, generate_people
from scanners.payloads import interpret

NAME = "lookup"
SEED = 1


def _sample(population: int, count: int) -> list[SyntheticPerson]:
    """`count` people drawn at random from the whole population, in random order (one pass of the generator)."""
    rng = random.Random(SEED)
    order = [rng.randrange(population) for _ in range(count)]
    wanted = set(order)
    found = {p.index: p for p in generate_people(max(wanted) + 1, SEED) if p.index in wanted}
    return [found[i] for i in order]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _scan_lookups(
    service: LookupService, texts: list[str], trust: TrustList
) -> tuple[list[float], list[LookupOutcome]]:
    times: list[float] = []
    outcomes: list[LookupOutcome] = []
    for text in texts:
        started = time.perf_counter()
        scan: ScanResult = interpret(text, format="QRCode", decoder="zxing-cpp", trust=trust)
        outcome = await service.by_scan(scan)
        times.append((time.perf_counter() - started) * 1000)
        outcomes.append(outcome)
    return times, outcomes


async def _searches(service: LookupService, people: list[SyntheticPerson]) -> tuple[list[float], list[str | None]]:
    """Demographic lookups as a clerk types them (name, birth date, sex, province): times and the top answer."""
    times: list[float] = []
    tops: list[str | None] = []
    for person in people:
        query = person.demographics().model_copy(update={"phone": None, "address": None})
        started = time.perf_counter()
        outcome = await service.by_demographics(query)
        times.append((time.perf_counter() - started) * 1000)
        top = outcome.patient or (outcome.candidates[0].patient if outcome.candidates else None)
        tops.append(top.id if top else None)
        if outcome.source is not LookupSource.NETWORK or outcome.status is LookupStatus.OFFLINE:
            # A figure over answers from the cache would time the cache, not the search.
            raise RuntimeError(f"a demographic search was not answered by the server ({outcome.status.value})")
    return times, tops


def _service(base: str, trust: TrustList, cache: Any) -> LookupService:
    config = ServerConfig(base_url=base, client_id="demo-er", client_secret="demo-er", timeout_s=2.0)
    return LookupService(config, trust=trust, cache=cache.records, outbox=cache.outbox)


async def _measure(size: Size, work: Path) -> list[Figure]:
    from offline_cache import OfflineCache

    population, count, searches = (1_000_000, 300, 100) if size is Size.FULL else (2_000, 40, 20)
    db = shared_sandbox_db(population, SEED)
    people = _sample(population, count)
    texts = [cccd_qr_text(p) for p in people]
    cache = OfflineCache.open(work / "cache", key_file=work / "key", ttl_seconds=3600.0)
    figures: list[Figure] = []
    try:
        # The server runs in its own process (it never shares the kiosk's interpreter in production), with its
        # `$match` engine built before the first request.
        with sandbox_process(db, population, SEED) as sandbox:
            trust = TrustList.load(sandbox.trust_list_path)
            service = _service(sandbox.base_url, trust, cache)
            await _scan_lookups(service, texts[:3], trust)  # connection, metadata and token: once per kiosk
            online, outcomes = await _scan_lookups(service, texts, trust)
            searched, tops = await _searches(service, people[:searches])
            await service.flush_outbox()
            await service.aclose()
        answered = [o for o in outcomes if o.status in (LookupStatus.FOUND, LookupStatus.CONSENT_REQUIRED)]
        documents = sum(len(o.summary.documents) for o in outcomes if o.summary is not None)
        if len(answered) < count:
            # A figure over failed lookups would time errors, not summaries.
            raise RuntimeError(f"only {len(answered)} of {count} scans were answered online")
        note = f"{population:,} patients, {count} lookups, {len(answered)} answered, {documents} documents verified"
        figures += [
            Figure(
                benchmark=NAME,
                name="scan to verified summary, median",
                value=statistics.median(online),
                unit="ms",
                floor=150.0,
                note=note,
            ),
            Figure(
                benchmark=NAME,
                name="scan to verified summary, p95",
                value=_quantile(online, 0.95),
                unit="ms",
                floor=300.0,
                note=note,
            ),
        ]
        # The server is stopped now: the same scans are answered by the cache.
        offline_service = _service(sandbox.base_url, trust, cache)
        cached, cached_outcomes = await _scan_lookups(offline_service, texts, trust)
        await offline_service.aclose()
        from_cache = sum(1 for o in cached_outcomes if o.source is LookupSource.CACHE)
        if from_cache < count:
            raise RuntimeError(f"only {from_cache} of {count} scans were answered from the cache")
        figures.append(
            Figure(
                benchmark=NAME,
                name="from the cache, server stopped, p95",
                value=_quantile(cached, 0.95),
                unit="ms",
                floor=20.0,
                note=f"{from_cache} of {count} answered from the cache",
            )
        )
        plain_config = SandboxConfig(
            db_path=db,
            population=population,
            seed=SEED,
            demo_clients=True,
            document_share=SHARE,
            supports_match=False,
            supports_summary=False,
        )
        with start_sandbox(plain_config, trust_list_path=work / "plain-trust.json") as plain:
            service = _service(plain.base_url, trust, cache)
            await _scan_lookups(service, texts[:3], trust)
            fallback, plain_outcomes = await _scan_lookups(service, texts, trust)
            online_plain = sum(1 for o in plain_outcomes if o.source is LookupSource.NETWORK)
            if online_plain < count:
                raise RuntimeError(f"only {online_plain} of {count} scans were answered by the plain server")
            plain_searched, plain_tops = await _searches(service, people[:searches])
            await service.aclose()
        same = sum(
            1
            for a, b in zip(outcomes, plain_outcomes, strict=True)
            if (a.status, a.patient, a.summary) == (b.status, b.patient, b.summary)
        )
        figures.append(
            Figure(
                benchmark=NAME,
                name="without $match/$summary, median",
                value=statistics.median(fallback),
                unit="ms",
                note=f"documents assembled from standard searches in parallel; {same} of {count} answers identical",
            )
        )
        right = sum(1 for person, top in zip(people, tops, strict=False) if top == person.patient_id)
        agree = sum(1 for a, b in zip(tops, plain_tops, strict=True) if a == b)
        figures += [
            Figure(
                benchmark=NAME,
                name="demographic search with $match, median",
                value=statistics.median(searched),
                unit="ms",
                note=f"{right} of {searches} right at the top",
            ),
            Figure(
                benchmark=NAME,
                name="demographic search, plain search + local ranking, median",
                value=statistics.median(plain_searched),
                unit="ms",
                note=f"same top answer as $match for {agree} of {searches}",
            ),
        ]
    finally:
        cache.close()
    return figures


def run(size: Size) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-lookup-") as folder:
        return asyncio.run(_measure(size, Path(folder)))
