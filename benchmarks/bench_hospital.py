"""A whole hospital: kiosk processes on one shared PostgreSQL cache, with PostgreSQL restarted in the middle.

Every kiosk is its own process (`benchmarks.hospital_kiosk`): a real `LookupService` on a `HospitalCache` (its own
encrypted SQLite cache and the hospital's shared one), doing `bench_load`'s desk mix against the sandbox server in
another process. PostgreSQL is the Debian server made as `kiosk hospital init` makes it, with the schema migrated
and its durability on. A third of the way into the measured time it is stopped as a crash would stop it (`pg_ctl
-m immediate`), and started again `Plan.outage_s` later: kiosks keep answering (they write to their own cache meanwhile)
and deliver their queues after it returns.

The run's baseline is a first phase of the same kiosk processes on their own caches only (no shared cache, no
restart), against the same server, for the same time.

Figures: action latency p95 over the run (with the baseline's) and during the outage, errors, and the delivery
account: every message the kiosks' outboxes accepted is delivered or given up (sent = delivered + given up), none
lost (each accepted audit event is on the server) and none twice (the server holds each once; a retry is a PUT of
the same id).

FULL: 50 kiosk processes, 60 s, 1,000,000 patients. SMOKE: 4 kiosk processes, 12 s, 5,000 patients.
"""

from __future__ import annotations

import contextlib
import pickle
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from benchmarks.bench_load import SAMPLE, SEED, People, quantile
from benchmarks.hospital_kiosk import Go, Job, KioskResult
from benchmarks.report import Figure, Size
from benchmarks.shared import sandbox_process, shared_sandbox_db
from offline_cache import OutboxState
from offline_cache.cluster import Cluster
from offline_cache.keys import KEY_BYTES, read_key_file, write_key_file
from offline_cache.schema import migrate
from offline_cache.shared import SharedCache

NAME = "hospital"
P95_FLOOR_MS: Final = 300.0
READY_TIMEOUT_S: Final = 300.0
SETTLE_S: Final = 5.0
"""After PostgreSQL is back, how long its reconnections are counted as part of the outage."""
MODES: Final = ("er", "reception", "er", "reception", "lobby")


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a hospital run is."""

    population: int
    kiosks: int
    seconds: float
    warmup_s: float
    """After every kiosk is ready, desks start one by one over this time; nothing is measured before it ends."""
    outage_s: float
    drain_s: float


PLANS: Final = {
    Size.FULL: Plan(1_000_000, 50, 60.0, 5.0, 8.0, 120.0),
    Size.SMOKE: Plan(5_000, 4, 12.0, 3.0, 3.0, 40.0),
}


@contextlib.contextmanager
def _postgres(folder: Path, kiosks: int) -> Iterator[Cluster]:
    """The hospital's PostgreSQL as `kiosk hospital init` makes it (durable: no test-only fsync switch)."""
    folder.mkdir(mode=0o755)
    cluster = Cluster(folder / "pg")
    cluster.init()
    cluster.start(connections=kiosks * 2 + 10)
    try:
        yield cluster
    finally:
        cluster.stop(immediate=True)


def _spawn(job: Job, folder: Path) -> subprocess.Popen[bytes]:
    path = folder / f"job-{job.number}.json"
    path.write_text(job.model_dump_json(), encoding="utf-8")
    log = (folder / f"kiosk-{job.number}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "benchmarks.hospital_kiosk", str(path)], stdout=log, stderr=log)


def _wait_ready(jobs: list[Job], processes: list[subprocess.Popen[bytes]], work: Path) -> None:
    """Wait until every kiosk process is set up (starting 50 interpreters on 2 cores takes a while)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(job.ready.exists() for job in jobs):
        for job, process in zip(jobs, processes, strict=True):
            if process.poll() is not None and not job.ready.exists():
                raise RuntimeError(f"kiosk process {job.number} ended before it was ready: {_log_tail(job, work)}")
        if time.monotonic() > deadline:
            raise RuntimeError("the kiosk processes were not ready in time")
        time.sleep(0.1)


def _log_tail(job: Job, work: Path) -> str:
    return (work / f"kiosk-{job.number}.log").read_text(encoding="utf-8", errors="replace")[-1500:]


def _stored_audits(db: Path, wanted: set[str]) -> dict[str, int]:
    """How many times the server holds each of these audit event ids."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts: dict[str, int] = defaultdict(int)
        for (event_id,) in conn.execute("SELECT id FROM audit_events"):
            if event_id in wanted:
                counts[event_id] += 1
        return counts
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class Phase:
    """What one phase of the run measured: every kiosk's result, and when PostgreSQL was down (if it was)."""

    results: list[KioskResult]
    outage: tuple[float, float] | None


def _phase(
    plan: Plan,
    folder: Path,
    base_url: str,
    trust: Path,
    people: Path,
    shared: tuple[str, Path] | None,
    cluster: Cluster | None,
) -> Phase:
    """Start the kiosk processes in `folder`, wait until each is ready, measure, and (with a cluster) kill and start
    PostgreSQL a third of the way in; the kiosks' results once they have drained."""
    folder.mkdir()
    jobs = [
        Job(
            number=n,
            mode=MODES[n % len(MODES)],
            base_url=base_url,
            trust_list=trust,
            people=people,
            dsn=None if shared is None else shared[0],
            key_file=None if shared is None else shared[1],
            work=folder,
            ready=folder / f"ready-{n}",
            go=folder / "go.json",
            result=folder / f"result-{n}.json",
        )
        for n in range(plan.kiosks)
    ]
    processes = [_spawn(job, folder) for job in jobs]
    _wait_ready(jobs, processes, folder)
    measure_from = time.time() + plan.warmup_s
    until = measure_from + plan.seconds
    go = Go(measure_from=measure_from, until=until, drain_until=until + plan.drain_s)
    (folder / "go.tmp").write_text(go.model_dump_json(), encoding="utf-8")
    (folder / "go.tmp").rename(folder / "go.json")
    outage = None
    if cluster is not None:
        outage_from = measure_from + plan.seconds / 3
        time.sleep(max(0.0, outage_from - time.time()))
        cluster.stop(immediate=True)
        time.sleep(plan.outage_s)
        cluster.start(connections=plan.kiosks * 2 + 10)
        outage = (outage_from, time.time())
    for process in processes:
        process.wait(timeout=plan.warmup_s + plan.seconds + plan.drain_s + 120)
    return Phase([_result(job, folder) for job in jobs], outage)


def run(size: Size) -> list[Figure]:
    plan = PLANS[size]
    db = shared_sandbox_db(plan.population, SEED)
    with tempfile.TemporaryDirectory(prefix="bench-hospital-") as scratch:
        work = Path(scratch)
        work.chmod(0o755)  # PostgreSQL runs as its own user when the benchmark runs as root
        people = work / "people.pickle"
        people.write_bytes(pickle.dumps(People.sample(plan.population, SAMPLE, 2026)))
        key_file = work / "keys" / "hospital.key"
        write_key_file(key_file, secrets.token_bytes(KEY_BYTES))
        with _postgres(work / "server", plan.kiosks) as cluster, sandbox_process(db, plan.population, SEED) as sandbox:
            dsn = cluster.dsn()
            migrate(dsn)
            url, trust = sandbox.base_url, sandbox.trust_list_path
            alone = _phase(plan, work / "alone", url, trust, people, None, None)
            hospital = _phase(plan, work / "hospital", url, trust, people, (dsn, key_file), cluster)
            with SharedCache.connect(dsn, master_key=read_key_file(key_file), ttl_seconds=3600.0) as shared:
                shared_outbox = shared.outbox.states()
                given_up = [f"{item.kind}: {item.reason}" for item in shared.outbox.entries(OutboxState.FAILED)]
        accepted = set().union(*(r.audit_ids for r in hospital.results))
        stored = _stored_audits(db, accepted)
    given_up += [reason for r in hospital.results for reason in r.given_up]
    assert hospital.outage is not None
    baseline = quantile([ms for r in alone.results for values in r.latencies.values() for ms in values], 0.95)
    return _figures(plan, hospital.results, shared_outbox, given_up, accepted, stored, hospital.outage, baseline)


def _result(job: Job, work: Path) -> KioskResult:
    if not job.result.exists():
        raise RuntimeError(f"kiosk process {job.number} wrote no result: {_log_tail(job, work)}")
    return KioskResult.model_validate_json(job.result.read_text(encoding="utf-8"))


def _figures(
    plan: Plan,
    results: list[KioskResult],
    shared_outbox: dict[OutboxState, int],
    given_up_reasons: list[str],
    accepted: set[str],
    stored: dict[str, int],
    outage: tuple[float, float],
    baseline_p95: float,
) -> list[Figure]:
    every = [ms for r in results for values in r.latencies.values() for ms in values]
    settling = outage[1] + SETTLE_S
    during = [ms for r in results for when, ms in r.latency_times if outage[0] <= when <= settling]
    outside = [ms for r in results for when, ms in r.latency_times if not outage[0] <= when <= settling]
    errors = sum(n for r in results for n in r.errors.values())
    in_outage = sum(1 for r in results for t in r.error_times if outage[0] <= t <= outage[1] + 5)
    outcomes: dict[str, int] = defaultdict(int)
    for r in results:
        for name, n in r.outcomes.items():
            outcomes[name] += n
    states: dict[str, int] = defaultdict(int)
    for r in results:
        for state, n in r.local_outbox.items():
            states[state] += n
    for state, n in shared_outbox.items():
        states[state.value] += n
    sent = sum(states.values())
    delivered, given_up = states["acknowledged"], states["failed"]
    waiting = states["queued"] + states["sent"]
    lost = len(accepted - set(stored))
    twice = sum(1 for n in stored.values() if n > 1)
    where = (
        f"{plan.kiosks} kiosk processes, {plan.population:,} patients, {plan.seconds:.0f} s; PostgreSQL down "
        f"{outage[1] - outage[0]:.1f} s, {plan.seconds / 3:.0f} s into the measured time"
    )
    floor = P95_FLOOR_MS if plan.kiosks >= 50 else None
    return [
        Figure(
            benchmark=NAME,
            name=f"action latency p95, {plan.kiosks} kiosk processes, shared cache",
            value=quantile(every, 0.95),
            unit="ms",
            floor=floor,
            baseline=baseline_p95,
            baseline_label=f"the same {plan.kiosks} kiosk processes on their own caches only, same run, no restart",
            note=f"{where}; p50 {quantile(every, 0.5):.0f} ms, {len(every)} actions",
        ),
        Figure(
            benchmark=NAME,
            name="action latency p95 while PostgreSQL is down (and 5 s after)",
            value=quantile(during, 0.95),
            unit="ms",
            note=f"{len(during)} actions; the rest of the run p95 {quantile(outside, 0.95):.0f} ms, "
            f"p99 {quantile(outside, 0.99):.0f} ms ({len(outside)} actions)",
        ),
        Figure(
            benchmark=NAME,
            name="errors, PostgreSQL restarted mid-run",
            value=float(errors),
            unit="actions",
            floor=0.0,
            note=f"{in_outage} of them during the outage; "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
        ),
        Figure(
            benchmark=NAME,
            name="messages not accounted for (sent - delivered - given up)",
            value=float(sent - delivered - given_up),
            unit="messages",
            floor=0.0,
            note=f"sent {sent}: delivered {delivered}, given up {given_up}, still waiting {waiting}; "
            f"shared outbox {', '.join(f'{k.value} {v}' for k, v in shared_outbox.items())}"
            + (f"; given up: {'; '.join(sorted(set(given_up_reasons)))}" if given_up_reasons else ""),
        ),
        Figure(
            benchmark=NAME,
            name="audit events lost or stored twice",
            value=float(lost + twice),
            unit="events",
            floor=0.0,
            note=f"{len(accepted)} accepted by the kiosks, {len(stored)} on the server, {lost} missing, {twice} twice",
        ),
        Figure(
            benchmark=NAME,
            name="kiosks back on the shared cache after the restart",
            value=float(sum(1 for r in results if r.shared_state_at_end == "connected")),
            unit="kiosks",
            floor=float(plan.kiosks),
            better="higher",
            note=f"{sum(1 for r in results if r.fallbacks)} of {plan.kiosks} went on with their own cache during the "
            f"outage ({sum(r.fallbacks for r in results)} fallbacks); their own outboxes delivered "
            f"{sum(r.local_outbox.get('acknowledged', 0) for r in results)} messages",
        ),
    ]
