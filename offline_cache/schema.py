"""The shared cache's schema on PostgreSQL, kept by migrations (yoyo-migrations) rather than created by kiosks.

A kiosk's own SQLite file makes its tables itself (`offline_cache.db`); the hospital's database is changed only by
`kiosk hospital migrate` (or `kiosk hospital init`), under yoyo's lock, from the numbered SQL files in
`offline_cache/migrations/`. Kiosks then need no right to change tables, and a kiosk of an older or newer release
finds out at once that the schema is not the one it was built for, instead of failing on its first write. Each
hospital schema keeps its own migration log (`_yoyo_migration`), so test schemas and a training schema can live in
one database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from offline_cache.errors import CacheError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_SCHEMA = "kiosk_cache"
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MIGRATION_TABLE = "_yoyo_migration"


def check_schema_name(schema: str) -> str:
    """A schema name goes into `SET search_path` as an identifier; only plain lower-case names are taken."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"not a schema name: {schema!r} (lower-case letters, digits and _ only)")
    return schema


def migration_ids() -> list[str]:
    """The migrations this release was built for, in order."""
    return sorted(path.stem for path in MIGRATIONS.glob("*.sql"))


@contextmanager
def _backend(dsn: str, schema: str) -> Iterator[Any]:
    """yoyo's PostgreSQL (psycopg 3) backend on `schema`, which is created when missing."""
    from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
    from yoyo.connections import DatabaseURI

    check_schema_name(schema)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if v is not None}
    database = params.pop("dbname", None)
    uri = DatabaseURI("postgresql+psycopg", None, None, None, None, database, {**params, "schema": schema})
    backend = PostgresqlPsycopgBackend(uri, MIGRATION_TABLE)
    backend.init_database()
    try:
        yield backend
    finally:
        backend.connection.close()


def migrate(dsn: str, schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Apply the migrations `schema` lacks, under yoyo's lock (kiosks starting together wait, never race); the ids
    applied. Raises `CacheError` naming the SQLSTATE, never the address's password."""
    from yoyo import read_migrations

    try:
        with _backend(dsn, schema) as backend, backend.lock():
            waiting = backend.to_apply(read_migrations(str(MIGRATIONS)))
            backend.apply_migrations(waiting)
            return [migration.id for migration in waiting]
    except psycopg.Error as exc:
        problem = f"{type(exc).__name__} {exc.sqlstate}"
        raise CacheError(f"the shared cache's schema could not be migrated: {problem}") from None


def applied(conn: psycopg.Connection[Any]) -> list[str]:
    """The migrations recorded in the connection's current schema (none when it was never migrated)."""
    found = conn.execute("SELECT to_regclass(%s)", (MIGRATION_TABLE,)).fetchone()
    if found is None or found[0] is None:
        return []
    rows = conn.execute(sql.SQL("SELECT migration_id FROM {}").format(sql.Identifier(MIGRATION_TABLE))).fetchall()
    return sorted(str(row[0]) for row in rows)


def schema_problem(conn: psycopg.Connection[Any]) -> str | None:
    """Why this kiosk cannot use the schema its connection is on, in words; None when it is the one expected."""
    have, want = applied(conn), migration_ids()
    if have == want:
        return None
    missing = [m for m in want if m not in have]
    if missing:
        return f"the shared cache's schema lacks migration {missing[0]}: run `kiosk hospital migrate`"
    unknown = [m for m in have if m not in want]
    return f"the shared cache's schema is newer than this kiosk (migration {unknown[0]}): update the kiosk"
