"""The sandbox server: generating and loading a population, identifier search over loopback, demo start-up.

FULL: 1,000,000 people generated and loaded (floor 300 s), identifier search p95 on them over HTTP on 127.0.0.1
(floor 10 ms), the demo population of 10,000 ready to serve from a cold cache (floor 5 s), and the server over the
million-person database ready (`start_sandbox` returned, `$match` on the matching engine): first start, which
builds and stores the matching index, and restart, which loads it (floor 10 s).
SMOKE: the same measurements at 20,000 people (the load and first-start figures carry no floor at that size).
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import Figure, Size
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from sandbox.server.config import SandboxConfig
from sandbox.server.loader import build_database
from sandbox.server.runner import start_sandbox
from sandbox.synthetic.population import generate_people
from testkit.server import authorised_client

NAME = "sandbox"
SEED = 1
SHARE = 0.4
CCCD_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.CCCD)


def _load(directory: Path, population: int, floor: float | None) -> tuple[Path, Figure]:
    path = directory / f"population-{population}.sqlite"
    started = time.perf_counter()
    build_database(path, population, SEED, SHARE)
    seconds = time.perf_counter() - started
    figure = Figure(
        benchmark=NAME,
        name=f"generate and load {population:,} patients",
        value=seconds,
        unit="s",
        floor=floor,
        note=f"{population / seconds:,.0f} patients/s, {path.stat().st_size / 2**20:,.0f} MiB SQLite",
    )
    return path, figure


def _identifier_search(directory: Path, path: Path, population: int, requests: int) -> Figure:
    config = SandboxConfig(db_path=path, population=population, seed=SEED, document_share=SHARE, demo_clients=True)
    config = config.model_copy(update={"supports_match": False})  # no engine build competing for the CPU
    rng = random.Random(7)
    wanted = set(rng.sample(range(population), min(requests, population)))
    numbers = [p.cccd for p in generate_people(population, SEED) if p.index in wanted]
    rng.shuffle(numbers)
    with start_sandbox(config, trust_list_path=directory / "trust.json") as sandbox:
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with authorised_client(sandbox.base_url, "demo-er", transport=transport) as client:
            for number in numbers[:20]:  # warm the connection and the page cache
                client.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|{number}"})
            timings = []
            for number in numbers:
                started = time.perf_counter()
                response = client.get("Patient", params={"identifier": f"{CCCD_SYSTEM}|{number}"})
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or len(response.json()["entry"]) != 1:
                    raise RuntimeError("identifier search did not find exactly one patient")
    p95 = statistics.quantiles(timings, n=100)[94]
    return Figure(
        benchmark=NAME,
        name=f"identifier search p95, {population:,} patients, loopback HTTP",
        value=p95,
        unit="ms",
        floor=10.0,
        note=f"{len(timings)} requests, median {statistics.median(timings):.2f} ms (server started without $match)",
    )


def _demo_ready(directory: Path) -> Figure:
    """From nothing (empty cache, no database) to a server answering, for the demo's 10,000 people."""
    cache = directory / "cold-cache"
    previous = os.environ.get("KIOSK_SANDBOX_CACHE")
    os.environ["KIOSK_SANDBOX_CACHE"] = str(cache)
    try:
        started = time.perf_counter()
        config = SandboxConfig(db_path=directory / "demo.sqlite", population=10_000, seed=SEED, demo_clients=True)
        with start_sandbox(config) as sandbox:
            if httpx.get(f"{sandbox.base_url}/metadata").status_code != 200:
                raise RuntimeError("the demo sandbox did not answer")
            seconds = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("KIOSK_SANDBOX_CACHE", None)
        else:
            os.environ["KIOSK_SANDBOX_CACHE"] = previous
    return Figure(benchmark=NAME, name="demo (10,000 patients) ready, cold cache", value=seconds, unit="s", floor=5.0)


def _typo_queries(population: int, count: int) -> list[dict[str, Any]]:
    """Patients as typed with one letter of the given name wrong, for `$match`."""
    rng = random.Random(11)
    wanted = set(rng.sample(range(population), min(count, population)))
    queries = []
    for person in generate_people(population, SEED):
        if person.index in wanted:
            given = person.given[:-1] + ("a" if person.given[-1] != "a" else "e")
            name = {"family": person.family, "given": [given]}
            patient = {"resourceType": "Patient", "name": [name], "birthDate": person.birth_date.isoformat()}
            queries.append({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": patient}]})
    return queries


def _ready_over(directory: Path, path: Path, population: int, size: Size) -> list[Figure]:
    """The server over an existing database, from `start_sandbox` to ready, twice: the first start builds the
    matching index and stores it beside the database, the restart loads it. Both must give the same `$match`
    answers, at once."""
    config = SandboxConfig(db_path=path, population=population, seed=SEED, document_share=SHARE, demo_clients=True)
    queries = _typo_queries(population, 50)
    seconds: dict[str, float] = {}
    answers: dict[str, list[list[tuple[str, float, str]]]] = {}
    how: dict[str, str | None] = {}
    for start in ("first", "restart"):
        started = time.perf_counter()
        with start_sandbox(config, trust_list_path=directory / "trust.json") as sandbox:
            seconds[start] = time.perf_counter() - started
            if sandbox.state.matching is None:
                raise RuntimeError("the sandbox started without $match")
            how[start] = sandbox.state.matching.prepared_by
            with authorised_client(sandbox.base_url, "demo-er") as client:
                operations = client.get("metadata").json()["rest"][0].get("operation", [])
                if not any(o["name"] == "match" for o in operations):
                    raise RuntimeError("the sandbox said ready without offering $match")
                answers[start] = [
                    [
                        (e["resource"]["id"], e["search"]["score"], e["search"]["extension"][0]["valueCode"])
                        for e in client.post("Patient/$match", json=query).json().get("entry", [])
                    ]
                    for query in queries
                ]
    if how != {"first": "built", "restart": "loaded"}:
        raise RuntimeError(f"the matching index was not built then loaded: {how}")
    if answers["first"] != answers["restart"]:
        raise RuntimeError("$match answered differently after a restart from the stored index")
    index = path.with_name(f"{path.stem}-match-index.npz")
    full = size is Size.FULL
    return [
        Figure(
            benchmark=NAME,
            name=f"first start over an existing {population:,}-person database, ready (index built and stored)",
            value=seconds["first"],
            unit="s",
            note=f"matching index {index.stat().st_size / 2**20:,.0f} MiB beside the database",
        ),
        Figure(
            benchmark=NAME,
            name=f"restart over an existing {population:,}-person database, ready (index loaded)",
            value=seconds["restart"],
            unit="s",
            floor=10.0,
            baseline=seconds["first"],
            baseline_label="first start",
            note=f"same $match answers to {len(queries)} given-name typos"
            + ("" if full else " (smoke size: the floor is for 1,000,000 people)"),
        ),
    ]


def run(size: Size) -> list[Figure]:
    population = 1_000_000 if size is Size.FULL else 20_000
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as raw:
        directory = Path(raw)
        figures = [_demo_ready(directory)]
        path, load = _load(directory, population, 300.0 if size is Size.FULL else None)
        figures.append(load)
        figures.append(_identifier_search(directory, path, population, 2000 if size is Size.FULL else 300))
        figures.extend(_ready_over(directory, path, population, size))
    return figures
