"""One kiosk process of the hospital load run (`bench_hospital`): its own cache, the hospital's shared cache.

Started as `python -m benchmarks.hospital_kiosk JOB.json`; does what `bench_load`'s desks do (the same mix, think
time and latency accounting) until the job's end time, then delivers what waits in its outbox and the shared one
(any kiosk drains the shared queue) and writes what it measured to the job's result file. Times in the job are
wall-clock (every process shares them); each is turned into the process's own loop time at start.
"""

from __future__ import annotations

import asyncio
import pickle
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from benchmarks.bench_load import Kiosk, People, Tally, _drive
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.trust_list import TrustList
from offline_cache import OfflineCache, OutboxState
from offline_cache.hospital import HospitalCache, SharedLink
from offline_cache.keys import read_key_file
from offline_cache.shared import SharedCache
from testkit.outbox import RecordingOutbox


class Job(BaseModel):
    """What one kiosk process is asked to do."""

    number: int
    mode: str
    base_url: str
    trust_list: Path
    people: Path
    """The pickled `People` the parent drew once for every kiosk."""
    dsn: str | None
    """The shared cache; None for a kiosk on its own cache only (the run's baseline)."""
    key_file: Path | None
    work: Path
    ready: Path
    """Written once the kiosk is set up and has done one unmeasured action (its connections and token made)."""
    go: Path
    """Written by the parent once every kiosk is ready: a `Go`."""
    result: Path


class Go(BaseModel):
    """When the measured time begins and ends, and until when the kiosks deliver (wall-clock)."""

    measure_from: float
    until: float
    drain_until: float


class KioskResult(BaseModel):
    """What one kiosk process measured, for the parent to add up."""

    latencies: dict[str, list[float]]
    latency_times: list[tuple[float, float]]
    """(wall-clock time the action ended, its milliseconds) for every measured action."""
    errors: dict[str, int]
    outcomes: dict[str, int]
    error_times: list[float]
    """Wall-clock times of the actions that failed (to place them against the PostgreSQL restart)."""
    audit_ids: list[str]
    local_outbox: dict[str, int]
    shared_state_at_end: str
    fallbacks: int
    given_up: list[str]
    """Kind and reason of each message this kiosk's own outbox gave up."""
    """How many times the kiosk lost the shared cache and went on with its own."""


class _StampedList(list[float]):
    """One action's latencies, each also written with the wall-clock time it was measured to a shared list."""

    def __init__(self, times: list[tuple[float, float]]) -> None:
        super().__init__()
        self._times = times

    def append(self, ms: float) -> None:
        self._times.append((time.time(), ms))
        super().append(ms)


class _StampedLatencies(defaultdict[str, list[float]]):
    """Latencies per action that also keep when each was measured (`times`)."""

    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []
        super().__init__(lambda: _StampedList(self.times))


class _StampedCounts(defaultdict[str, int]):
    """Error counts that also keep the wall-clock time of each increase."""

    def __init__(self) -> None:
        super().__init__(int)
        self.times: list[float] = []

    def __setitem__(self, key: str, value: int) -> None:
        if value > self.get(key, 0):
            self.times.append(time.time())
        super().__setitem__(key, value)


def _link(job: Job) -> SharedLink:
    """The kiosk's link to the shared cache, retried every 2 s (a kiosk's default is 10 s) to see the return soon."""
    assert job.dsn is not None and job.key_file is not None
    dsn, key, clinical = job.dsn, read_key_file(job.key_file), job.mode != "lobby"
    return SharedLink(
        lambda: SharedCache.connect(
            dsn, master_key=key, ttl_seconds=3600.0, clinical_allowed=clinical, connect_timeout=2.0
        ),
        "the hospital cache",
        retry_seconds=2.0,
    )


async def _run(job: Job) -> KioskResult:
    people: People = pickle.loads(job.people.read_bytes())
    trust = TrustList.load(job.trust_list)
    local = OfflineCache.open(
        job.work / f"kiosk-{job.number}",
        key_file=job.work / f"kiosk-{job.number}.key",
        ttl_seconds=3600.0,
        clinical_allowed=job.mode != "lobby",
    )
    link = _link(job) if job.dsn is not None else None
    cache: OfflineCache | HospitalCache = local if link is None else HospitalCache(local, link)
    outbox = RecordingOutbox(cache.outbox)
    config = ServerConfig(
        base_url=job.base_url,
        client_id=f"demo-{job.mode}",
        client_secret=f"demo-{job.mode}",
        timeout_s=5.0,
        mode=job.mode,
    )
    service = LookupService(config, trust=trust, cache=cache.records, outbox=outbox)
    kiosk = Kiosk(service, trust, people, random.Random(1000 + job.number))
    errors = _StampedCounts()
    latencies = _StampedLatencies()
    tally = Tally(errors=errors, latencies=latencies)
    try:
        # One action to open the connections and take a token, as a desk does once a day, then wait for the others.
        await kiosk.act("scan")
        await service.flush_outbox()
        job.ready.touch()
        await asyncio.to_thread(_wait_for, job.go)
        go = Go.model_validate_json(job.go.read_text(encoding="utf-8"))
        offset = asyncio.get_running_loop().time() - time.time()
        await _drive(kiosk, go.until + offset, go.measure_from + offset, tally)
        await _drain(service, cache, go.drain_until)
    finally:
        await service.aclose()
    result = KioskResult(
        latencies={name: list(values) for name, values in tally.latencies.items()},
        latency_times=latencies.times,
        errors=dict(tally.errors),
        outcomes=dict(tally.outcomes),
        error_times=errors.times,
        audit_ids=sorted(outbox.audit_ids),
        local_outbox={state.value: n for state, n in local.outbox.states().items()},
        shared_state_at_end="none" if link is None else link.state,
        fallbacks=0 if link is None else link.losses,
        given_up=[f"{item.kind}: {item.reason}" for item in local.outbox.entries(OutboxState.FAILED)],
    )
    cache.close()
    return result


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.05)


async def _drain(service: LookupService, cache: OfflineCache | HospitalCache, until: float) -> None:
    """Deliver until this kiosk's own backlog and the shared queue hold nothing waiting, or the deadline passes."""
    while time.time() < until:
        await service.flush_outbox()
        local = (cache.local if isinstance(cache, HospitalCache) else cache).outbox.states()
        waiting = local[OutboxState.QUEUED] + local[OutboxState.SENT]
        connected = True
        if isinstance(cache, HospitalCache):
            shared = cache.shared_state()
            if shared.outbox is not None:
                waiting += shared.outbox.get("queued", 0) + shared.outbox.get("sent", 0)
            connected = shared.state == "connected"
        if waiting == 0 and connected:
            return
        await asyncio.sleep(0.5)


def main(argv: list[str]) -> int:
    job = Job.model_validate_json(Path(argv[0]).read_text(encoding="utf-8"))
    result = asyncio.run(_run(job))
    job.result.write_text(result.model_dump_json(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
