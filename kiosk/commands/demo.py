"""`kiosk demo`: one command on a fresh machine shows the product.

It starts the sandbox coordination server on a free loopback port with a synthetic population (10,000 people by
default) and the demo clients, writes its facility trust list beside a throw-away cache, configures the kiosk with
them (`demo-er`/`demo-er`), and opens the ER app. The waiting screen shows sample codes to try: the CCCD QR text
of a synthetic patient (paste it, or type it fast), the same code as a PNG for a camera or `kiosk scan`, a name to
search for, and a patient without consent to try break-glass. The staff sign-in starts with a demo staff member of
the mode filled in and shows their PIN (the sandbox's demo accounts); the admin PIN of the demo (F9, Ctrl+Q where
nobody is signed in, always in the lobby) is shown in the dialog that asks for it. Everything lives in a temporary
folder removed on exit unless `--dir` names one to keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.commands.extras import require_sandbox_extra
from kiosk.demo_hint import DemoHint
from kiosk.output import CommandError
from kiosk.settings import Mode, load_settings
from lookup import hash_pin

if TYPE_CHECKING:
    from sandbox.synthetic.population import SyntheticPerson

DEMO_STAFF: dict[str, tuple[str, str]] = {"er": ("nurse-lan", "246810"), "reception": ("clerk-hoa", "112358")}
"""The sandbox's demo staff member for each mode, and their PIN (see `sandbox.server.auth`; demo accounts only)."""
DEMO_ADMIN_PIN = "314159"
"""The demo kiosk's admin PIN; its hash is made at each start."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start a sandbox with a synthetic population and open the kiosk against it")
    p.add_argument("--population", type=int, default=10_000, help="synthetic people (default 10,000)")
    p.add_argument("--seed", type=int, default=2025, help="population seed (default 2025)")
    p.add_argument("--mode", choices=[m.value for m in Mode], default="er", help="kiosk mode (default er)")
    p.add_argument("--lang", choices=["vi", "en"], help="language on screen (default vi)")
    p.add_argument("--dir", type=Path, help="keep the sandbox database, trust list and cache here")
    p.add_argument("--serve", action="store_true", help="serve the app to a browser instead of this terminal")
    p.add_argument("--port", type=int, default=8000, help="browser port with --serve (default 8000)")


def _write_qr(text: str, path: Path) -> Path | None:
    """The code as a PNG, for a camera or `kiosk scan`; None when the image libraries are missing."""
    try:
        import cv2
        import numpy as np
        import zxingcpp
    except ImportError:
        return None
    image = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=8))
    framed = cv2.copyMakeBorder(image, 32, 32, 32, 32, cv2.BORDER_CONSTANT, value=255)
    return path if cv2.imwrite(str(path), framed) else None


def _samples(population: int, seed: int, share: float) -> Iterator[tuple[SyntheticPerson, bool]]:
    """Synthetic people with shared documents, each with whether they consented to sharing."""
    from sandbox.synthetic.clinical import has_consent, has_documents
    from sandbox.synthetic.population import generate_people

    for person in generate_people(min(population, 2_000), seed):
        if has_documents(person.index, seed, share):
            yield person, has_consent(person.index, seed)


def demo_hint(population: int, seed: int, share: float, folder: Path) -> DemoHint:
    from sandbox.synthetic.cards import cccd_qr_text

    consenting = without = None
    for person, consented in _samples(population, seed, share):
        if consented and consenting is None:
            consenting = person
        elif not consented and without is None:
            without = person
        if consenting is not None and without is not None:
            break
    if consenting is None:
        raise CommandError("the demo population has nobody with shared records; use a larger --population")
    text = cccd_qr_text(consenting)
    return DemoHint(
        cccd_text=text,
        qr_image=_write_qr(text, folder / "demo-cccd-qr.png"),
        search_name=f"{consenting.family} {consenting.given}, {consenting.birth_date.year}",
        consent_text=cccd_qr_text(without) if without is not None else None,
    )


def run(args: argparse.Namespace) -> int:
    require_sandbox_extra()
    from sandbox.server.config import SandboxConfig
    from sandbox.server.runner import start_sandbox

    if args.population < 1:
        raise CommandError("--population must be at least 1")
    with ExitStack() as stack:
        folder = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kiosk-demo-")))
        folder.mkdir(parents=True, exist_ok=True)
        config = SandboxConfig(
            db_path=folder / "sandbox.db", demo_clients=True, population=args.population, seed=args.seed
        )
        sys.stderr.write(f"kiosk demo: starting the sandbox with {args.population:,} synthetic people…\n")
        sandbox = stack.enter_context(start_sandbox(config))
        client = f"demo-{args.mode}"
        environment = {
            "KIOSK_SERVER": sandbox.base_url,
            "KIOSK_CLIENT_ID": client,
            "KIOSK_CLIENT_SECRET": client,
            "KIOSK_TRUST_LIST": str(sandbox.trust_list_path),
            "KIOSK_CACHE_DIR": str(folder / "cache"),
            # The demo's key and journal live and go with its folder, beside (never inside) the cache folder.
            "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
            "KIOSK_AUDIT_JOURNAL_DIR": str(folder / "audit-journal"),
            "KIOSK_MODE": args.mode,
            "KIOSK_ADMIN_PIN_HASH": hash_pin(DEMO_ADMIN_PIN),
        }
        staff_id, staff_pin = DEMO_STAFF.get(args.mode, (None, None))
        if staff_id is not None:
            environment["KIOSK_STAFF_ID"] = staff_id
        hint = demo_hint(args.population, args.seed, config.document_share, folder).model_copy(
            update={"staff_id": staff_id, "staff_pin": staff_pin, "admin_pin": DEMO_ADMIN_PIN}
        )
        if args.serve:
            hint_file = folder / "demo-hint.json"
            hint_file.write_text(hint.model_dump_json(), encoding="utf-8")
            args.demo_hint = hint_file
            return _serve(args, environment)
        os.environ.update(environment)
        from kiosk.wiring import build_app, close_services

        settings = load_settings(lang=args.lang)
        app = build_app(settings, hint=hint)
        try:
            app.run()
        finally:
            close_services(app.services)
    return 0


def _serve(args: argparse.Namespace, environment: dict[str, str]) -> int:
    from textual_serve.server import Server

    from kiosk.commands.serve import app_command

    os.environ.update(environment)
    server = Server(app_command(args), host="127.0.0.1", port=args.port, title="Kiosk demo")
    sys.stdout.write(f"kiosk demo: open http://127.0.0.1:{args.port} in a browser\n")
    sys.stdout.flush()
    server.serve()
    return 0
