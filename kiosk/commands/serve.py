"""`kiosk serve`: the kiosk app in a browser (touchscreen kiosks), one app process per browser tab.

textual-serve starts `kiosk run` for each connection; settings travel through the environment, so the served app
is configured exactly like a terminal one. It binds to 127.0.0.1 unless told otherwise: a kiosk's browser runs on
the same machine, and exposing the app on the hospital network must be a deliberate choice.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shlex
import sys

from kiosk.commands.run import add_app_options, settings_from

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve the kiosk app to a browser (loopback by default)")
    add_app_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")


def app_command(args: argparse.Namespace) -> str:
    """The command line each browser session runs."""
    parts = [sys.executable, "-m", "kiosk.cli", "run"]
    for option in ("mode", "lang", "server", "client_id", "trust_list", "demo_hint"):
        value = getattr(args, option, None)
        if value:
            parts += [f"--{option.replace('_', '-')}", str(value)]
    return shlex.join(parts)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    settings_from(args)  # fail here, once, on a bad setting, rather than in every browser session
    if not is_loopback(args.host):
        sys.stderr.write(f"kiosk: serving on {args.host}, reachable from the network\n")
    server = Server(app_command(args), host=args.host, port=args.port, title="Kiosk")
    sys.stdout.write(f"kiosk: open http://{args.host}:{args.port} in a browser\n")
    sys.stdout.flush()
    server.serve()
    return 0
