"""`kiosk run --mode er|reception|lobby`: the kiosk app in this terminal, against the configured server."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.demo_hint import DemoHint
from kiosk.settings import Settings, load_settings

if TYPE_CHECKING:
    from textual.pilot import Pilot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the kiosk app in this terminal")
    add_app_options(p)
    p.add_argument("--ready-check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--demo-hint", type=Path, help=argparse.SUPPRESS)


def add_app_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `run`, `serve` and `demo`; each overrides the matching setting."""
    p.add_argument("--mode", choices=["er", "reception", "lobby"], help="what this kiosk may show (default: er)")
    p.add_argument("--lang", choices=["vi", "en"], help="language on screen (default: vi; F3 switches)")
    p.add_argument("--server", help="FHIR base URL (KIOSK_SERVER)")
    p.add_argument("--client-id", help="OAuth2 client id (KIOSK_CLIENT_ID)")
    p.add_argument("--trust-list", help="pinned JWKS of facility keys (KIOSK_TRUST_LIST)")


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(
        mode=args.mode, lang=args.lang, server=args.server, client_id=args.client_id, trust_list=args.trust_list
    )


async def _report_ready(pilot: Pilot[object]) -> None:
    # Used by the cold-start benchmark: the app has mounted its first screen and takes keys.
    sys.stdout.write(f"ready {time.perf_counter():.6f}\n")
    sys.stdout.flush()
    pilot.app.exit()


def run(args: argparse.Namespace) -> int:
    from kiosk.wiring import build_app, close_services

    hint = None
    if args.demo_hint is not None:
        hint = DemoHint.model_validate_json(args.demo_hint.read_text(encoding="utf-8"))
    app = build_app(settings_from(args), hint=hint)
    try:
        if args.ready_check:
            app.run(headless=True, auto_pilot=_report_ready)
        else:
            app.run()
    finally:
        close_services(app.services)
    return 0 if app.return_code in (None, 0) else int(app.return_code or 1)
