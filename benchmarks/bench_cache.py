"""Offline cache benchmark: get by identifier and put, p95, with N records, beside a plaintext SQLite baseline.

The baseline is the same `RecordStore` code on the same schema and the same SQLite settings (WAL,
synchronous=NORMAL for records), with the cryptography taken out: keys and index keys stored as they are, payloads
unencrypted. Both stores are filled alike, then measured in alternation, so the ratio is the cost of AES-256-GCM and
the HMAC blind indexes.

SMOKE: 5,000 records. FULL: 100,000 records (the issue's floors: get < 2 ms p95, put < 5 ms p95, x1.5 baseline).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Figure, Size
from offline_cache import NewRecord, OfflineCache
from offline_cache.db import Database
from offline_cache.store import RecordStore

NAME = "cache"
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Minh", "Nam", "Nhung")


class PlainSealer:
    """No encryption: the baseline's payloads are stored as they are."""

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        return plaintext

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        return sealed


class PlainBlinder:
    """No blind index: the baseline's keys and index keys are stored in clear."""

    def blind(self, domain: bytes, value: str) -> bytes:
        return domain + b"\x00" + value.encode("utf-8")


def person(i: int) -> tuple[str, str, bytes, list[str]]:
    """Record key, identifier index key, a summary-sized payload and the index keys of synthetic person `i`."""
    rng = random.Random(i)
    cccd = f"{rng.randrange(1, 96):03d}{rng.randrange(10**9):09d}"
    name = f"{rng.choice(FAMILY)} Thị {rng.choice(GIVEN)}"
    year = rng.randrange(1930, 2024)
    body = f'{{"id":"p{i}","name":"{name}","birthDate":"{year}-01-01","cccd":"{cccd}","documents":['
    payload = body + ",".join(['{"type":"60591-5","text":"' + "x" * 120 + '"}'] * rng.randrange(6, 14)) + "]}"
    identifier = f"id:http://fhir.hl7.org.vn/core/sid/cccd|{cccd}"
    keys = [identifier, f"id:http://fhir.hl7.org.vn/core/sid/bhyt|{i:010d}", f"bk:{name.split()[-1]}|{year}"]
    return f"patient/p{i}", identifier, payload.encode("utf-8"), keys


def _fill(store: RecordStore, n: int) -> float:
    started = time.perf_counter()
    for start in range(0, n, 2000):
        store.put_many(NewRecord(*_record(i)) for i in range(start, min(n, start + 2000)))
    return time.perf_counter() - started


def _record(i: int) -> tuple[str, bytes, list[str]]:
    key, _, payload, keys = person(i)
    return key, payload, keys


def cost_ratio(encrypted: list[float], plain: list[float], block: int = 50) -> float:
    """How many times the encrypted store's time the plaintext one's: the median, over blocks of calls made side by
    side, of the ratio of their medians, so a burst of load from another process skews one block, not the figure."""
    ratios = [
        statistics.median(encrypted[i : i + block]) / statistics.median(plain[i : i + block])
        for i in range(0, min(len(encrypted), len(plain)) - block + 1, block)
    ]
    return statistics.median(ratios)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Timings:
    """Milliseconds per call for each store."""

    get: dict[str, list[float]]
    put: dict[str, list[float]]
    fill_seconds: dict[str, float]


@dataclass
class _Stores:
    encrypted: RecordStore
    plain: RecordStore
    close: Callable[[], None]


def _open(work: Path) -> _Stores:
    cache = OfflineCache.open(work / "encrypted", key_file=work / "key", ttl_seconds=72 * 3600.0, max_bytes=2**40)
    (work / "plain").mkdir()
    db = Database(work / "plain" / "cache.sqlite3", time.time)
    plain = RecordStore(
        db, PlainSealer(), PlainBlinder(), ttl_seconds=72 * 3600.0, max_bytes=2**40, clinical_allowed=True
    )

    def close() -> None:
        cache.close()
        db.close()

    return _Stores(cache.records, plain, close)


def measure(
    n: int,
    gets: int,
    puts: int,
    work: Path,
    seed: int = 7,
    rounds: int = 1,
    enough: Callable[[Timings], bool] = lambda _: True,
) -> list[Timings]:
    """Fill both stores with `n` records, then time `gets` finds by identifier and `puts` new records on each; again,
    up to `rounds` times, while a round is not `enough` (the stores stay filled; later rounds put new records)."""
    stores = _open(work)
    try:
        named = {"encrypted": stores.encrypted, "plain": stores.plain}
        fill = {name: _fill(store, n) for name, store in named.items()}
        rng = random.Random(seed)
        results = []
        for round_ in range(rounds):
            timings = Timings({k: [] for k in named}, {k: [] for k in named}, fill)
            for call in range(max(gets, puts)):
                i = rng.randrange(n)
                _, identifier, _, _ = person(i)
                new = _record(n + round_ * puts + call)
                for name, store in named.items():
                    if call < gets:
                        started = time.perf_counter()
                        found = store.find(identifier)
                        timings.get[name].append((time.perf_counter() - started) * 1000)
                        if not found or found[0].key != f"patient/p{i}":
                            raise AssertionError(f"the {name} store lost record {i}")
                    if call < puts:
                        started = time.perf_counter()
                        store.put(*new[:2], index_keys=new[2])
                        timings.put[name].append((time.perf_counter() - started) * 1000)
            results.append(timings)
            if enough(timings):
                break
        return results
    finally:
        stores.close()


def figures(t: Timings, n: int) -> Iterator[Figure]:
    note = f"{n:,} records, WAL synchronous=NORMAL"
    label = "plaintext SQLite, same schema"
    for op, values, floor in (("get by identifier", t.get, 2.0), ("put", t.put, 5.0)):
        enc, plain = values["encrypted"], values["plain"]
        yield Figure(
            benchmark=NAME,
            name=f"{op}, p95",
            value=quantile(enc, 0.95),
            unit="ms",
            floor=floor,
            baseline=quantile(plain, 0.95),
            baseline_label=label,
            note=f"{note}, {len(enc)} calls",
        )
        yield Figure(
            benchmark=NAME,
            name=f"{op}, encrypted / plaintext",
            value=cost_ratio(enc, plain),
            unit="x",
            floor=1.5,
            note=f"median of per-50-call median ratios; medians {statistics.median(enc):.3f} ms vs "
            f"{statistics.median(plain):.3f} ms",
        )
    yield Figure(
        benchmark=NAME,
        name="fill, records per second",
        value=n / t.fill_seconds["encrypted"],
        unit="records/s",
        better="higher",
        baseline=n / t.fill_seconds["plain"],
        baseline_label=label,
        note="batches of 2,000 in one transaction",
    )


def run(size: Size) -> list[Figure]:
    n, gets, puts = (100_000, 5_000, 1_000) if size is Size.FULL else (5_000, 1_000, 300)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        return list(figures(measure(n, gets, puts, Path(tmp))[0], n))
