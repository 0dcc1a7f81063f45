"""A throw-away PostgreSQL server for the shared cache's tests, made as `kiosk hospital init` makes one
(`offline_cache.cluster`): listening only on a Unix socket in a temporary folder, without fsync, stopped at the end.
The hospital schema is migrated by each test that connects (`offline_cache.schema.migrate`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from offline_cache.cluster import Cluster


@contextmanager
def running_postgres(folder: Path, port: int | None = None) -> Iterator[str]:
    """Start a server in `folder`; yields a connection string."""
    cluster = Cluster(folder, port)
    cluster.init()
    cluster.start(fast=True)
    try:
        yield cluster.dsn()
    finally:
        cluster.stop(immediate=True)
