"""The crash test's driver, run as its own process: `python -m tests.offline_cache.crash_writer DIR KILLS SEED`.

It forks a writer, waits until the writer has acknowledged a first write, lets it write for a random 5-50 ms, and
kills it with SIGKILL; `KILLS` times. Each writer opens the cache afresh (so every kill is followed by an open of the
file it left), then writes records and outbox messages in a loop, printing each key to a pipe only after the call
that stored it returned. The driver prints one JSON object: the acknowledged record and message keys, and how each
writer ended. It runs in a process of its own because forking a multi-threaded test runner is unsafe.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import signal
import sys
import time
from pathlib import Path

from offline_cache import OfflineCache

FIRST_WRITE_TIMEOUT = 20.0


def payload_for(key: str) -> bytes:
    """The payload written under `key`, so the check can tell a right record from a damaged one."""
    digest = hashlib.sha256(key.encode()).digest()
    return digest * (3 + digest[0] % 40)


def _write_forever(directory: Path, writer: int, out: int) -> None:
    cache = OfflineCache.open(directory, key_file=directory.parent / "key", ttl_seconds=3600)
    i = 0
    while True:
        key = f"w{writer}-{i}"
        cache.records.put(key, payload_for(key), index_keys=[f"i:{key}", f"w:{writer}"])
        os.write(out, f"r {key}\n".encode())
        if i % 4 == 0:
            cache.outbox.append("audit", key, payload_for(key))
            os.write(out, f"o {key}\n".encode())
        i += 1


def _first_write(fd: int) -> bytes:
    """What the writer sent up to its first acknowledged write (empty if it never wrote in time)."""
    data = b""
    deadline = time.monotonic() + FIRST_WRITE_TIMEOUT
    while b"\n" not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        data += chunk
    return data


def _rest(fd: int) -> bytes:
    """Everything left in the pipe; the writer is dead, so the pipe ends."""
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data


def drive(directory: Path, kills: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    records: list[str] = []
    messages: list[str] = []
    endings: dict[str, int] = {}
    for writer in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer
            os.close(read_end)
            try:
                _write_forever(directory, writer, write_end)
            except BaseException as exc:
                os.write(2, f"writer failed: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(3)
        os.close(write_end)
        sent = _first_write(read_end)
        time.sleep(rng.uniform(0.005, 0.050))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        sent += _rest(read_end)
        os.close(read_end)
        ending = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        endings[ending] = endings.get(ending, 0) + 1
        # Only complete lines count: the pipe's small writes are atomic, so a line is all there or not at all.
        for line in sent.decode().split("\n")[:-1]:
            kind, _, key = line.partition(" ")
            (records if kind == "r" else messages).append(key)
    return {"records": records, "messages": messages, "endings": endings}


def main() -> int:
    directory, kills, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    json.dump(drive(directory, kills, seed), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
