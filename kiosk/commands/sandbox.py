"""`kiosk sandbox`: run the reference coordination server with a synthetic population, in the foreground."""

from __future__ import annotations

import argparse
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.commands.extras import require_sandbox_extra
from kiosk.output import CommandError, emit

if TYPE_CHECKING:
    import uvicorn


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sandbox", help="run the sandbox FHIR coordination server (synthetic population)")
    p.add_argument("--port", type=int, default=8700, help="TCP port (default 8700)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--db",
        type=Path,
        required=True,
        help="sandbox database file (created when missing; the facility signing keys are kept beside it)",
    )
    p.add_argument("--synthetic", type=int, metavar="N", help="generate N synthetic people (once per database)")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic population (default 1)")
    p.add_argument("--import", dest="import_path", type=Path, metavar="PATIENTS.ndjson", help="load FHIR Patients")
    p.add_argument("--demo-clients", action="store_true", help="register the demo clients and staff")
    p.add_argument(
        "--trust-list-out",
        type=Path,
        metavar="PATH",
        help="write this server's facility public keys (JWKS); replaces only an earlier trust list",
    )
    p.add_argument("--no-match", action="store_true", help="do not offer Patient/$match")
    p.add_argument("--no-summary", action="store_true", help="do not offer Patient/$summary")
    p.add_argument("--json", action="store_true", help="print the start-up facts as one JSON object")


def run(args: argparse.Namespace) -> int:
    require_sandbox_extra()
    import uvicorn

    from sandbox.server.app import create_app
    from sandbox.server.auth import DEMO_CLIENTS, DEMO_STAFF
    from sandbox.server.config import SandboxConfig
    from sandbox.server.facility_keys import (
        FacilityKeysError,
        NotATrustListError,
        check_trust_list_target,
        write_trust_list,
    )
    from sandbox.server.loader import PatientImportError
    from sandbox.server.storage import NotASandboxDatabaseError, check_sandbox_database

    if args.import_path is not None and not args.import_path.is_file():
        raise CommandError(f"{args.import_path}: the import file does not exist")
    # Wrong paths fail before the port is taken and before the (possibly long) database preparation.
    try:
        check_sandbox_database(args.db)
        if args.trust_list_out is not None:
            check_trust_list_target(args.trust_list_out)
    except NotASandboxDatabaseError as exc:
        raise CommandError(f"--db {exc}") from None
    except NotATrustListError as exc:
        raise CommandError(f"--trust-list-out {exc}") from None
    _check_port(args.host, args.port)
    config = SandboxConfig(
        db_path=args.db,
        population=args.synthetic,
        seed=args.seed,
        import_path=args.import_path,
        demo_clients=args.demo_clients,
        supports_match=not args.no_match,
        supports_summary=not args.no_summary,
    )
    started = time.perf_counter()
    try:
        app = create_app(config)
    except PatientImportError as exc:
        raise CommandError(f"import failed: {exc}") from None
    except NotASandboxDatabaseError as exc:
        raise CommandError(f"--db {exc}") from None
    except FacilityKeysError as exc:
        raise CommandError(f"cannot use the facility signing keys: {exc}") from None
    except (ValueError, sqlite3.Error, OSError) as exc:
        raise CommandError(f"cannot prepare the sandbox database: {exc}") from None
    if args.trust_list_out is not None:
        try:
            write_trust_list(args.trust_list_out, app.state.sandbox.keys)
        except NotATrustListError as exc:
            raise CommandError(f"--trust-list-out {exc}") from None
        except OSError as exc:
            raise CommandError(f"--trust-list-out {args.trust_list_out}: cannot write ({exc.strerror})") from None
    patients = app.state.sandbox.store.count_patients()
    matching = app.state.sandbox.matching
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False))

    def announce() -> None:
        # The ready line only once every operation runs at full quality; until then the server answers 503.
        while not server.started:
            time.sleep(0.02)
        if matching is not None:
            matching.wait_ready()
        ready_s = time.perf_counter() - started
        base = f"http://{args.host}:{_listening_port(server, args.port)}{config.base_path}"
        match = "off" if matching is None else "engine" if matching.engine_ready else "failed"
        if args.json:
            emit(
                {
                    "base_url": base,
                    "patients": patients,
                    "ready_s": round(ready_s, 3),
                    "match": match,
                    "match_index": matching.prepared_by if matching is not None else None,
                    "trust_list": str(args.trust_list_out) if args.trust_list_out else None,
                    "demo_clients": sorted(DEMO_CLIENTS) if args.demo_clients else [],
                    "notice": "demo clients are for demos and tests only" if args.demo_clients else None,
                }
            )
            return
        lines = [f"sandbox FHIR server at {base} ({patients} patients, ready in {ready_s:.1f} s)"]
        if match == "failed":
            lines.append("WARNING: the matching engine could not be built (see the log); $match is not offered")
        if args.trust_list_out is not None:
            lines.append(f"facility trust list written to {args.trust_list_out}")
        if args.demo_clients:
            lines.append("DEMO CLIENTS ARE FOR DEMOS AND TESTS ONLY; never enable them with real data:")
            lines.extend(f"  client_id={name} client_secret={name}" for name in DEMO_CLIENTS)
            staff = ", ".join(member.staff_id for member in DEMO_STAFF)
            lines.append(f"  demo staff (staff_id; their PINs are in sandbox/server/auth.py): {staff}")
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    if matching is not None and not args.json:
        sys.stderr.write("kiosk sandbox: preparing the matching index (FHIR routes answer 503 until it is ready)\n")
    threading.Thread(target=announce, name="kiosk-sandbox-ready", daemon=True).start()
    server.run()
    if not server.started:
        raise CommandError(f"cannot listen on {args.host}:{args.port}")
    return 0


def _listening_port(server: uvicorn.Server, asked: int) -> int:
    """The port the server listens on (the one the system chose when asked for 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return asked


def _check_port(host: str, port: int) -> None:
    """Fail before the (possibly long) database preparation when the address cannot be listened on."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
