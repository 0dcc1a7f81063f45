"""What several benchmarks share: one generated sandbox database per (size, seed) per run, and a sandbox server
in its own process.

A 1,000,000-person database takes most of a minute to generate and about 1 GB of disk, so a benchmark run builds
it once and every benchmark asks for it here:

    path = shared_sandbox_db(1_000_000, seed=1)   # built on the first call of the run, then the same file
    shared_build_seconds(1_000_000, seed=1)      # how long that build took (None if not built in this process)

The file lives in `$KIOSK_BENCH_SHARED` (set by `python -m benchmarks` to a folder removed at the end of the run) or
else in a temporary folder removed when the process exits. Servers write to it (lazily signed documents, audit
events, check-ins); those writes are small and no benchmark depends on another's, so the file is shared as is.

`sandbox_process(...)` runs a sandbox in a child process, so a load generator and the server it measures do not
share one interpreter lock (a kiosk and the coordination server never share a process in production either).
`shared_sandbox_process(...)` keeps one such server running for the rest of the run, for benchmarks that only read.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.server.loader import build_database

SHARE: Final = 0.4
"""Share of people with shared documents: the sandbox's default, so every benchmark sees the same database."""
ENV_DIR: Final = "KIOSK_BENCH_SHARED"
_built: dict[tuple[int, int, float], float] = {}
_fallback: Path | None = None


def shared_dir() -> Path:
    """The folder of this run's shared databases."""
    global _fallback
    configured = os.environ.get(ENV_DIR)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    if _fallback is None:
        _fallback = Path(tempfile.mkdtemp(prefix="kiosk-bench-shared-"))
        atexit.register(shutil.rmtree, _fallback, True)
    return _fallback


def shared_sandbox_db(n: int, seed: int = 1, share: float = SHARE) -> Path:
    """A generated sandbox database of `n` people, built on the first call of this run and reused after."""
    path = shared_dir() / f"sandbox-{n}-{seed}-{share:g}.sqlite"
    done = path.with_suffix(".complete")
    if done.exists():
        return path
    started = time.perf_counter()
    build_database(path, n, seed, share)
    done.touch()
    _built[(n, seed, share)] = time.perf_counter() - started
    return path


def shared_build_seconds(n: int, seed: int = 1, share: float = SHARE) -> float | None:
    """How long `shared_sandbox_db(n, seed)` took to build, when this process built it."""
    return _built.get((n, seed, share))


@dataclass(frozen=True, slots=True)
class SandboxProcess:
    """A sandbox server running in a child process."""

    base_url: str
    trust_list_path: Path
    db_path: Path
    pid: int


@contextlib.contextmanager
def sandbox_process(
    db: Path, population: int, seed: int = 1, *, ready_timeout_s: float = 900.0
) -> Iterator[SandboxProcess]:
    """Start a sandbox on a free 127.0.0.1 port in a child process, wait until its `$match` engine is built, and
    stop it on exit. The child stops when its standard input closes, so it cannot outlive the benchmark."""
    trust = db.with_name(f"{db.stem}-trust.json")
    command = [
        sys.executable,
        "-m",
        "benchmarks.shared",
        "--db",
        str(db),
        "--population",
        str(population),
        "--seed",
        str(seed),
        "--trust",
        str(trust),
    ]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + ready_timeout_s
        line = child.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("the sandbox process did not start")
        facts = json.loads(line)
        yield SandboxProcess(str(facts["base_url"]), trust, db, child.pid)
    finally:
        if child.stdin is not None:
            with contextlib.suppress(OSError):
                child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


_running: dict[tuple[Path, int, int], tuple[SandboxProcess, contextlib.ExitStack]] = {}


def shared_sandbox_process(db: Path, population: int, seed: int = 1) -> SandboxProcess:
    """A sandbox server on `db` started on first use and kept running for the rest of the run, so benchmarks that
    only read from it share one start-up (the `$match` engine build of a million people takes a minute or more).
    Stopped by `stop_shared_sandboxes()`, which `python -m benchmarks` calls at the end (and at exit otherwise).
    A benchmark that must stop the server (to measure the offline cache) uses `sandbox_process` instead."""
    key = (db, population, seed)
    if key not in _running:
        if not _running:
            atexit.register(stop_shared_sandboxes)
        stack = contextlib.ExitStack()
        _running[key] = (stack.enter_context(sandbox_process(db, population, seed)), stack)
    return _running[key][0]


def stop_shared_sandboxes() -> None:
    """Stop every server `shared_sandbox_process` started."""
    while _running:
        _, (_, stack) = _running.popitem()
        stack.close()


def _serve(argv: list[str] | None = None) -> int:
    from sandbox.server.config import SandboxConfig
    from sandbox.server.runner import start_sandbox

    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--population", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trust", type=Path, required=True)
    args = parser.parse_args(argv)
    config = SandboxConfig(
        db_path=args.db, population=args.population, seed=args.seed, document_share=SHARE, demo_clients=True
    )
    with start_sandbox(config, trust_list_path=args.trust) as sandbox:
        sys.stdout.write(json.dumps({"base_url": sandbox.base_url}) + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes the pipe
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
