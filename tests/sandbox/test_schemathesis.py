"""Property-based fuzzing of the OpenAPI schema against a real server: no request may cause a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from testkit.server import bearer_token


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    config = SandboxConfig(db_path=tmp_path_factory.mktemp("fuzz") / "s.sqlite", population=300, demo_clients=True)
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzzed: RunningSandbox) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{fuzzed.port}/openapi.json")


@pytest.fixture(scope="module")
def bearer(fuzzed: RunningSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer_token(fuzzed.base_url, 'demo-er')}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error(case: schemathesis.Case[Any], bearer: dict[str, str]) -> None:
    case.call_and_validate(headers=bearer, checks=[not_a_server_error])
