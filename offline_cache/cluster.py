"""A PostgreSQL server for the hospital's shared cache from Debian's `postgresql` package, in a folder of its own.

`kiosk hospital init` and the tests make one the same way: `initdb` into `<folder>/data` (SCRAM password
authentication over TCP; trust only on its own Unix socket folder `<folder>/sock`, which is 0700, so only the
account that owns the server reaches it without a password), `pg_ctl` to start and stop it. When the kiosk runs
as root the server runs as the `postgres` user, since PostgreSQL refuses root. A real hospital may point
`cache_url` at any PostgreSQL 13+ server instead; this is the tested way to have one.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "kiosk"


class ClusterError(RuntimeError):
    """The PostgreSQL programs are missing, or one of them failed; the text says which and why."""


def bindir() -> Path:
    """Where `initdb` and `pg_ctl` are: on the PATH, or in Debian's versioned folder."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise ClusterError("PostgreSQL is not installed: apt-get install postgresql")
    return Path(candidates[-1]).parent


@dataclass(frozen=True)
class Cluster:
    """One server's folder: its data, its socket folder and its log."""

    folder: Path
    port: int | None = None
    """A TCP port on 127.0.0.1, or None for the Unix socket alone."""

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def sockets(self) -> Path:
        return self.folder / "sock"

    @property
    def log(self) -> Path:
        return self.folder / "log"

    def dsn(self, dbname: str = "postgres") -> str:
        """The connection string for the superuser over the Unix socket."""
        port = f" port={self.port}" if self.port else ""
        return f"host={self.sockets} user={SUPERUSER} dbname={dbname}{port}"

    @property
    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        """Make the data folder (nothing is started)."""
        if self.exists:
            raise ClusterError(f"{self.data} already holds a PostgreSQL server")
        self.sockets.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            if self._run("test", "-x", str(self.folder.parent), check=False, program_path=False) != 0:
                raise ClusterError(
                    f"the postgres user cannot reach {self.folder}: each folder above it must be searchable by others "
                    "(chmod o+x), or choose a folder such as /var/lib/kiosk-hospital"
                )
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self, *, fast: bool = False, connections: int = 100) -> None:
        """Start the server for up to `connections` clients (each kiosk holds one or two); `fast` turns off fsync,
        for tests only (a crash may lose the database)."""
        listen = f"-c listen_addresses=127.0.0.1 -p {self.port}" if self.port else "-c listen_addresses=''"
        options = f"-k {self.sockets} {listen} -c max_connections={connections}"
        if fast:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server (`immediate` as a crash would: no checkpoint, clients cut)."""
        mode = "immediate" if immediate else "fast"
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False) == 0

    def _run(self, program: str, *args: str, check: bool = True, program_path: bool = True) -> int:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = str(bindir() / program) if program_path else program
        try:
            done = subprocess.run([*prefix, command, *args], capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{program} could not run: {type(exc).__name__}") from None
        if check and done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ClusterError(f"{program} failed ({done.returncode}): {last[0]}")
        return done.returncode
