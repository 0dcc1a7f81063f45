"""`kiosk serve`: the kiosk app in a browser (touchscreen kiosks), one app process per browser tab.

textual-serve starts `kiosk run` for each connection; settings travel through the environment, so the served app
is configured exactly like a terminal one. It binds to 127.0.0.1 unless told otherwise: a kiosk's browser runs on
the same machine. A session needs the access key printed here at start (or `serve_secret`), may be opened only from
the served page's own origin, and there are at most `serve_max_sessions`; `kiosk.serve` holds those checks and
refuses another address unless TLS and `serve_secret` are set.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from kiosk.commands.run import add_app_options, settings_from
from kiosk.output import CommandError
from kiosk.serve.plan import ServePlan, plan_serving
from lookup import is_loopback_host


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


def run(args: argparse.Namespace) -> int:
    from kiosk.serve.server import GuardedServer  # aiohttp and textual-serve load only to serve

    settings = settings_from(args)  # fail here, once, on a bad setting, rather than in every browser session
    plan = plan_serving(settings, args.host, args.port)
    server = GuardedServer(app_command(args), plan, lang=settings.lang)
    try:
        server.serve(on_listening=lambda: _announce(plan))
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host} port {args.port}: {exc.strerror or exc}") from None
    return 0


def _announce(plan: ServePlan) -> None:
    if not is_loopback_host(plan.host):
        sys.stderr.write(f"kiosk: serving on {plan.host} over TLS, reachable from the network\n")
    if plan.secret_from_settings:
        where = "replace <serve_secret> with the key from the settings"
    else:
        where = "the key is new at each start and is not shown again"
    sys.stdout.write(f"kiosk: open {plan.open_url} in the kiosk's browser ({where})\n")
    sys.stdout.flush()
