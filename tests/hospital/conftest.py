"""A hospital for the shared-cache tests: a PostgreSQL server made by `kiosk hospital init` as an IT team would, the
sandbox coordination server, and kiosks as separate `kiosk` processes with caches of their own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offline_cache.cluster import Cluster
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from testkit.serve import free_port
from tests.reliability.conftest import POPULATION, SEED, SHARE


@dataclass(frozen=True)
class Hospital:
    """The shared cache server made by `kiosk hospital init`, and the two settings it printed."""

    folder: Path
    cache_url: str
    key_file: Path

    @property
    def cluster(self) -> Cluster:
        return Cluster(self.folder, json.loads((self.folder / "cluster.json").read_text())["port"])


def kiosk_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """One `kiosk` command as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
        input=stdin,
    )


def json_line(done: subprocess.CompletedProcess[str]) -> Any:
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, (done.stdout[-1000:], done.stderr[-2000:])
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def hospital() -> Iterator[Hospital]:
    folder = Path(tempfile.mkdtemp(prefix="kiosk-hospital-"))
    folder.chmod(0o755)  # the server runs as its own user when the tests run as root
    server, key_file = folder / "server", folder / "keys" / "hospital.key"
    done = kiosk_cli(
        "hospital", "init", "--dir", str(server), "--port", str(free_port()), "--key-file", str(key_file), "--json"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    made = json_line(done)
    try:
        yield Hospital(server, made["cache_url"], key_file)
    finally:
        kiosk_cli("hospital", "stop", "--dir", str(server))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def coordination(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    folder = tmp_path_factory.mktemp("hospital-sandbox")
    config = SandboxConfig(
        db_path=folder / "sandbox.sqlite", population=POPULATION, seed=SEED, document_share=SHARE, demo_clients=True
    )
    with start_sandbox(config, trust_list_path=folder / "trust.json") as running:
        yield running


def kiosk_env(folder: Path, hospital: Hospital, server: str, trust: Path, name: str) -> dict[str, str]:
    """The settings of one ER kiosk of the hospital: its own cache folder and key, the hospital's shared cache."""
    return {
        "KIOSK_SERVER": server,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(trust),
        "KIOSK_CACHE_DIR": str(folder / name / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / name / "cache.key"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_MODE": "er",
        "KIOSK_CACHE_URL": hospital.cache_url,
        "KIOSK_HOSPITAL_KEY_FILE": str(hospital.key_file),
        "KIOSK_KIOSK_NAME": name,
    }
