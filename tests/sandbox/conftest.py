"""One real sandbox server (uvicorn on 127.0.0.1, SQLite file) shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox

POPULATION = 1500
SEED = 5


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    directory = tmp_path_factory.mktemp("sandbox")
    config = SandboxConfig(db_path=directory / "sandbox.sqlite", population=POPULATION, seed=SEED, demo_clients=True)
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generated databases are cached per machine; tests keep theirs apart."""
    directory = tmp_path_factory.mktemp("sandbox-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SANDBOX_CACHE", str(directory))
        yield directory
