"""`kiosk hospital init|start|stop|status|migrate`: the hospital's shared cache server and its schema.

`init --dir DIR` makes a PostgreSQL server in DIR from Debian's `postgresql` package (`offline_cache.cluster`),
starts it on 127.0.0.1, creates the kiosks' role (a random password, SCRAM) and database, applies the schema's
migrations, writes the hospital key file (outside DIR: the database never holds the key) and prints the two settings
every kiosk of the hospital needs. The same lines are kept in `DIR/kiosk.env` (0600) for the next kiosk installed.
`start` and `stop` run that server again; `migrate` brings the schema of `cache_url` up to this release (kiosks never
change tables themselves). A hospital with its own PostgreSQL 13+ only needs `migrate` and a key file.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel

from kiosk.output import CommandError, emit, say
from kiosk.settings import APP_NAME, load_settings

APP_ROLE = "kiosk_app"
DATABASE = "kiosk_cache"
DEFAULT_PORT = 5433
CONNECTIONS_PER_KIOSK = 2
"""Each kiosk's pool holds at most two connections (`offline_cache.shared`)."""
STATE_FILE = "cluster.json"
ENV_FILE = "kiosk.env"


class ClusterState(BaseModel):
    """What `init` remembers in DIR for `start`, `stop` and `status`: the port and the connection limit (never a
    password)."""

    port: int
    connections: int = 200


def default_key_file() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "keys" / "hospital.key"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hospital", help="the hospital's shared cache: PostgreSQL server and schema")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="make, start and migrate a PostgreSQL server for the shared cache")
    init.add_argument("--dir", type=Path, required=True, help="an empty folder for the server's data")
    init.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})")
    init.add_argument("--kiosks", type=int, default=100, help="how many kiosks may connect at once (default 100)")
    init.add_argument("--key-file", type=Path, default=None, help="where to write the hospital key (outside --dir)")
    init.add_argument("--json", action="store_true", help="one JSON object")
    for name, text in (("start", "start the server made by init"), ("stop", "stop it"), ("status", "is it running")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--dir", type=Path, required=True, help="the folder given to init")
        action.add_argument("--json", action="store_true", help="one JSON object")
    migrate = actions.add_parser("migrate", help="apply the schema migrations the shared cache (cache_url) lacks")
    migrate.add_argument("--json", action="store_true", help="one JSON object")


def _state(folder: Path) -> ClusterState:
    state_file = folder / STATE_FILE
    try:
        state = ClusterState.model_validate_json(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{folder} holds no server made by `kiosk hospital init`") from None
    except ValueError:
        raise CommandError(f"{state_file} is damaged: it should hold the server's port") from None
    return state


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def _init(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    from offline_cache import CacheError, key_inside
    from offline_cache.cluster import Cluster, ClusterError
    from offline_cache.keys import KEY_BYTES, write_key_file
    from offline_cache.schema import migrate

    folder: Path = args.dir.resolve()
    key_file: Path = (args.key_file or default_key_file()).resolve()
    if folder.exists() and any(folder.iterdir()):
        raise CommandError(f"{folder} is not empty: give init a new folder")
    if key_inside(key_file, folder):
        raise CommandError(f"the hospital key file {key_file} would lie beside the database: write it outside {folder}")
    if key_file.exists():
        raise CommandError(f"{key_file} exists: a hospital key is never overwritten (move it, or give --key-file)")
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is not a TCP port")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.kiosks < 1:
        raise CommandError("--kiosks must be at least 1")
    cluster = Cluster(folder, args.port)
    state = ClusterState(port=args.port, connections=args.kiosks * CONNECTIONS_PER_KIOSK + 10)
    password = secrets.token_urlsafe(24)
    try:
        cluster.init()
        cluster.start(connections=state.connections)
    except ClusterError as exc:
        raise CommandError(str(exc)) from None
    url = f"postgresql://{APP_ROLE}:{password}@127.0.0.1:{args.port}/{DATABASE}"
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(APP_ROLE), password))
            owner = sql.Identifier(APP_ROLE)
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), owner))
        applied = migrate(url)
    except (psycopg.Error, CacheError) as exc:
        cluster.stop()
        problem = str(exc) if isinstance(exc, CacheError) else f"{type(exc).__name__} {exc.sqlstate}"
        raise CommandError(f"the shared cache's database could not be made: {problem}") from None
    write_key_file(key_file, secrets.token_bytes(KEY_BYTES))
    (folder / STATE_FILE).write_text(state.model_dump_json() + "\n", encoding="utf-8")
    settings_lines = f"KIOSK_CACHE_URL={url}\nKIOSK_HOSPITAL_KEY_FILE={key_file}\n"
    _write_private(folder / ENV_FILE, settings_lines)
    return {
        "server": str(folder),
        "port": args.port,
        "migrations": applied,
        "hospital_key_file": str(key_file),
        "settings": str(folder / ENV_FILE),
        "cache_url": url,
    }


def _migrate() -> dict[str, Any]:
    from offline_cache import CacheError
    from offline_cache.schema import migrate

    settings = load_settings()
    if settings.cache_url is None:
        raise CommandError("cache_url is not set: there is no shared cache to migrate")
    try:
        applied = migrate(settings.cache_url.get_secret_value())
    except CacheError as exc:
        raise CommandError(str(exc)) from None
    return {"migrations": applied}


def run(args: argparse.Namespace) -> int:
    from offline_cache.cluster import ClusterError

    try:
        if args.action == "init":
            data = _init(args)
        elif args.action == "migrate":
            data = _migrate()
        else:
            from offline_cache.cluster import Cluster

            state = _state(args.dir)
            cluster = Cluster(args.dir.resolve(), state.port)
            if args.action == "start" and not cluster.running():
                cluster.start(connections=state.connections)
            elif args.action == "stop" and cluster.running():
                cluster.stop()
            data = {"server": str(cluster.folder), "port": cluster.port, "running": cluster.running()}
    except ClusterError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        emit(data)
    elif args.action == "init":
        say(f"shared cache server in {data['server']} on 127.0.0.1:{data['port']}, migrations {data['migrations']}")
        say(f"hospital key written to {data['hospital_key_file']} (0600; copy it to each kiosk, never to the server)")
        say(f"every kiosk of the hospital needs these settings (kept in {data['settings']}, 0600):")
        say(f"KIOSK_CACHE_URL={data['cache_url']}\nKIOSK_HOSPITAL_KEY_FILE={data['hospital_key_file']}")
    elif args.action == "migrate":
        applied = data["migrations"]
        say(f"applied {', '.join(applied)}" if applied else "the schema is up to date")
    else:
        say(f"{data['server']} port {data['port']}: {'running' if data['running'] else 'stopped'}")
    return 0
