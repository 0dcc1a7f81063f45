"""A throw-away PostgreSQL server for the shared cache's tests: initdb into a temporary folder, listening only on a
Unix socket there, stopped at the end. Runs the server as the `postgres` user when the tests run as root (the server
refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (the CI setup installs the `postgresql` package)")
    return Path(candidates[-1]).parent


@contextmanager
def running_postgres(folder: Path) -> Iterator[str]:
    """Start a server in `folder`; yields a connection string."""
    bindir = _bindir()
    data, sockets = folder / "data", folder / "sock"
    sockets.mkdir(parents=True)
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "kiosk", "-E", "UTF8", "--no-sync")
    options = f"-k {sockets} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
    try:
        yield f"host={sockets} user=kiosk dbname=postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )
