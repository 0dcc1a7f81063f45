"""Clients of a running sandbox, one per demo role, for any test module or folder that provides a `sandbox`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server.runner import RunningSandbox
from testkit.server import authorised_client


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
