"""One real sandbox server (uvicorn on 127.0.0.1, SQLite file) shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox

POPULATION = 1500
SEED = 5


def token(sandbox: RunningSandbox, client: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": client}
    if scope:
        form["scope"] = scope
    response = httpx.post(f"{sandbox.base_url}/auth/token", data=form)
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def client_for(sandbox: RunningSandbox, name: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token(sandbox, name)}"}
    return httpx.Client(base_url=sandbox.base_url + "/", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    directory = tmp_path_factory.mktemp("sandbox")
    config = SandboxConfig(db_path=directory / "sandbox.sqlite", population=POPULATION, seed=SEED, demo_clients=True)
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(scope="module")
def er(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, "demo-er") as client:
        yield client


@pytest.fixture(scope="module")
def lobby(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, "demo-lobby") as client:
        yield client


@pytest.fixture(scope="module")
def reception(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, "demo-reception") as client:
        yield client


@pytest.fixture(scope="module")
def admin(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, "demo-admin") as client:
        yield client


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generated databases are cached per machine; tests keep theirs apart."""
    directory = tmp_path_factory.mktemp("sandbox-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SANDBOX_CACHE", str(directory))
        yield directory
