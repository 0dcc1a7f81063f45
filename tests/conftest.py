"""Clients of a running sandbox, one per demo role, for any test module or folder that provides a `sandbox`; and a
machine of the tests' own: the user's data and state folders (default cache key file, audit journal) in a temporary
folder and no OS keyring, so no test writes a key or an audit event into the home folder or the keyring of whoever
runs it (child processes inherit this environment)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server.runner import RunningSandbox
from testkit.server import authorised_client


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(home / "data"))
        patch.setenv("XDG_STATE_HOME", str(home / "state"))
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        yield


@pytest.fixture(scope="module")
def er(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with authorised_client(sandbox.base_url, "demo-er") as client:
        yield client


@pytest.fixture(scope="module")
def lobby(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with authorised_client(sandbox.base_url, "demo-lobby") as client:
        yield client


@pytest.fixture(scope="module")
def reception(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with authorised_client(sandbox.base_url, "demo-reception") as client:
        yield client


@pytest.fixture(scope="module")
def admin(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with authorised_client(sandbox.base_url, "demo-admin") as client:
        yield client
