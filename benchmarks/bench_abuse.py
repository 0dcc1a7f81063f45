"""Abuse: an attacker posts 10 MB `$match` bodies while well-behaved clients look people up by identifier.

One sandbox in its own process (the run's shared database and server). Each well-behaved client looks a person up
by CCCD number a few times a second (`Plan.lookups_per_s`) on its own connection, on a fixed schedule (a late
answer does not delay the next question), first in a quiet phase, then for as long again while one attacker
(another client id, with a valid token) posts `$match` Parameters whose Patient has a 10,000,000-letter family
name, back to back.

Figures: the attacker's time from sending a body to holding the refusal (p95; floor 100 ms: the server answers 413
on the declared length, never reads the body and closes the connection), and the well-behaved clients' lookup p95
during the attack (floor 50 ms), beside their p95 in the quiet phase of the same run as the baseline. Every attack
must be refused (413, or 429 once the attacker outruns its rate limit) and every lookup must find its one person,
or the benchmark fails. The attacker is a thread of the benchmark's process: on a 2-core machine its writes take
CPU from the server's machine, which a remote attacker's would not.

FULL: 20 clients x 5 lookups/s, 15 s per phase, 1,000,000 patients. SMOKE: 5 clients x 10 lookups/s, 2 s per
phase, 5,000 patients.
"""

from __future__ import annotations

import functools
import itertools
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import httpx
import orjson

from benchmarks.report import Figure, Size
from benchmarks.shared import shared_sandbox_db, shared_sandbox_process
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from sandbox.synthetic.population import generate_people
from testkit.server import authorised_client

NAME = "abuse"
SEED: Final = 1
CCCD_SYSTEM: Final = DEFAULT_TABLE.system(IdentifierKind.CCCD)
REFUSAL_FLOOR_MS: Final = 100.0
LOOKUP_FLOOR_MS: Final = 50.0
ATTACK_NAME_LETTERS: Final = 10_000_000
WARMUP_S: Final = 0.5
Timing = tuple[float, float]
"""When a request was sent (monotonic s) and how long its answer took (ms)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How big an abuse run is."""

    population: int
    clients: int
    lookups_per_s: float
    phase_s: float


PLANS: Final = {Size.FULL: Plan(1_000_000, 20, 5.0, 15.0), Size.SMOKE: Plan(5_000, 5, 10.0, 2.0)}


def _client(base_url: str, client_id: str) -> httpx.Client:
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return authorised_client(base_url, client_id, transport=transport)


def _looker(
    client: httpx.Client, numbers: Sequence[str], rate: float, start: float, until: float, out: list[Timing]
) -> None:
    """Look people up on a fixed schedule from `start` to `until`, recording when each was sent and its latency."""
    for step, number in zip(itertools.count(), itertools.cycle(numbers), strict=False):
        due = start + step / rate
        if due >= until:
            return
        time.sleep(max(0.0, due - time.monotonic()))
        sent = time.monotonic()
        began = time.perf_counter()
        answer = client.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|{number}"})
        out.append((sent, (time.perf_counter() - began) * 1000))
        if answer.status_code != 200 or len(answer.json().get("entry") or []) != 1:
            raise RuntimeError(f"a well-behaved lookup got {answer.status_code}")


def _attacker(client: httpx.Client, start: float, until: float, out: list[Timing], answers: list[int]) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": {"resourceType": "Patient", "name": [{"family": "A" * ATTACK_NAME_LETTERS}]},
            }
        ],
    }
    body = orjson.dumps(parameters)
    headers = {"Content-Type": "application/fhir+json"}
    time.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < until:
        sent = time.monotonic()
        began = time.perf_counter()
        answer = client.post("Patient/$match", content=body, headers=headers)
        out.append((sent, (time.perf_counter() - began) * 1000))
        answers.append(answer.status_code)
        if answer.status_code not in (413, 429):
            raise RuntimeError(f"a 10 MB $match was answered {answer.status_code}, not refused")


@dataclass(frozen=True, slots=True)
class Phase:
    """What one phase measured, in ms: lookups sent after the warm-up (the first open connections), and the
    attacker's refusals with their statuses (413, or 429 once it outruns its rate limit)."""

    lookups: list[float]
    refusals: list[float]
    statuses: Counter[int]


def _phase(base_url: str, plan: Plan, numbers: Sequence[str], attack: bool) -> Phase:
    clients = [_client(base_url, "demo-er") for _ in range(plan.clients)]
    attacker = _client(base_url, "demo-lobby") if attack else None
    lookups: list[Timing] = []
    refusals: list[Timing] = []
    statuses: list[int] = []
    failures: list[Exception] = []
    start = time.monotonic() + 0.2
    measure_from = start + WARMUP_S
    until = measure_from + plan.phase_s

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                work()
            except Exception as exc:
                failures.append(exc)

        return body

    jobs: list[Callable[[], None]] = []
    for n, client in enumerate(clients):
        offset = n / (plan.clients * plan.lookups_per_s)  # spread the clients over each schedule step
        share = numbers[n :: plan.clients]
        jobs.append(functools.partial(_looker, client, share, plan.lookups_per_s, start + offset, until, lookups))
    if attacker is not None:
        jobs.append(functools.partial(_attacker, attacker, measure_from, until, refusals, statuses))
    threads = [threading.Thread(target=guarded(job), daemon=True) for job in jobs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for client in [*clients, *([attacker] if attacker else [])]:
            client.close()
    if failures:
        raise RuntimeError(f"the abuse benchmark failed: {failures[0]}") from failures[0]
    return Phase([ms for sent, ms in lookups if sent >= measure_from], [ms for _, ms in refusals], Counter(statuses))


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100)[94] if len(values) >= 2 else (values[0] if values else 0.0)


def run(size: Size) -> list[Figure]:
    plan = PLANS[size]
    sandbox = shared_sandbox_process(shared_sandbox_db(plan.population, SEED), plan.population, SEED)
    wanted = plan.clients * 200
    numbers = [p.cccd for p in itertools.islice(generate_people(plan.population, SEED), wanted)]
    quiet = _phase(sandbox.base_url, plan, numbers, attack=False).lookups
    attack = _phase(sandbox.base_url, plan, numbers, attack=True)
    attacked, refusals = attack.lookups, attack.refusals
    if not refusals or not attack.statuses[413]:
        raise RuntimeError("the attacker was never refused for the size of its body")
    where = f"{plan.clients} clients x {plan.lookups_per_s:g} lookups/s, {plan.population:,} patients"
    return [
        Figure(
            benchmark=NAME,
            name="10 MB $match refused, attacker's wait p95",
            value=p95(refusals),
            unit="ms",
            floor=REFUSAL_FLOOR_MS,
            note=f"{len(refusals)} attempts in {plan.phase_s:g} s ({attack.statuses[413]} answered 413, "
            f"{attack.statuses[429]} 429), median {statistics.median(refusals):.1f} ms, max {max(refusals):.1f} ms; "
            f"{where}",
        ),
        Figure(
            benchmark=NAME,
            name="identifier lookup p95 of well-behaved clients during the attack",
            value=p95(attacked),
            unit="ms",
            floor=LOOKUP_FLOOR_MS,
            baseline=p95(quiet),
            baseline_label="same clients, no attacker, same run",
            note=f"{len(attacked)} lookups (quiet phase {len(quiet)}), median {statistics.median(attacked):.2f} ms "
            f"(quiet {statistics.median(quiet):.2f} ms); {where}",
        ),
    ]
