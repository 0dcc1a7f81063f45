"""`kiosk serve` in a child process for the tests: the address it prints, the app processes it runs, a browser.

The app processes are found in /proc (descendants of the served kiosk whose command line is `kiosk.cli run`), so a
test can say that no app started for a refused connection and that a closed session's process is really gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPEN_LINE = re.compile(r"\bopen (\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServedKiosk:
    """A running `kiosk serve`: its process, port, the address it printed, and everything it wrote so far."""

    process: subprocess.Popen[str]
    port: int
    open_url: str = ""
    lines: list[str] = field(default_factory=list)

    def app_processes(self) -> set[int]:
        return app_processes(self.process.pid)


def app_processes(root: int) -> set[int]:
    """The live `kiosk.cli run` processes descended from `root`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            stack.append(pid)
            with contextlib.suppress(OSError):
                if b"kiosk.cli\0run" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
    return found


def until(condition: Callable[[], bool], within: float) -> bool:
    """Whether `condition` holds within `within` seconds, checked every 50 ms."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(pids: set[int], within: float) -> bool:
    """Whether every pid has left /proc (exited and been waited for, not a zombie) within `within` seconds."""
    return until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), within)


def serve_env(tmp: Path, **settings: str) -> dict[str, str]:
    """An environment with no settings file and a cache in `tmp`, plus `KIOSK_<NAME>` for each of `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env |= {"KIOSK_CONFIG_FILE": str(tmp / "none.toml"), "KIOSK_CACHE_DIR": str(tmp / "cache")}
    return env | {f"KIOSK_{name.upper()}": value for name, value in settings.items()}


@contextlib.contextmanager
def served_kiosk(
    env: dict[str, str], *args: str, port: int | None = None, within: float = 20.0
) -> Iterator[ServedKiosk]:
    """`kiosk serve --port P ARGS`, once it listens and has printed where to open it; stopped afterwards."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = ServedKiosk(process, port)
    printed = threading.Event()

    def drain() -> None:  # read everything, so the child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            served.lines.append(line)
            if not served.open_url and (match := OPEN_LINE.search(line)):
                served.open_url = match.group(1)
                printed.set()
        printed.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + within
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("kiosk serve did not start listening:\n" + "".join(served.lines)) from None
                time.sleep(0.1)
        assert printed.wait(within) and served.open_url, "kiosk serve printed no address:\n" + "".join(served.lines)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
