"""Driving the kiosk app as a clerk would, for the tests and the app benchmark.

A keyboard-wedge scanner types a whole code in one burst; `wedge_scan` posts one key event per character with no
pause between them (microseconds apart, as from a real scanner), then Enter, exactly where the terminal driver would.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot

from kiosk.settings import Mode, Settings, load_settings
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.clinical import has_consent, has_documents
from sandbox.synthetic.population import SyntheticPerson, generate_people
from testkit.server import STAFF_PINS

if TYPE_CHECKING:
    from kiosk.app import KioskApp

SEED = 20260314
STAFF_OF_MODE = {Mode.ER: "nurse-lan", Mode.RECEPTION: "clerk-hoa"}
"""The demo staff member who signs in at a kiosk of each mode that asks for one."""


def people(population: int, seed: int = SEED) -> list[SyntheticPerson]:
    return list(generate_people(population, seed))


def with_records(population: int, *, consented: bool = True, seed: int = SEED) -> list[SyntheticPerson]:
    """People who have shared documents, with (or without) consent to share them."""
    share = SandboxConfig.model_fields["document_share"].default
    return [
        p
        for p in people(population, seed)
        if has_documents(p.index, seed, share) and has_consent(p.index, seed) is consented
    ]


@contextlib.contextmanager
def sandbox(population: int, seed: int = SEED, **switches: bool) -> Iterator[RunningSandbox]:
    """A sandbox with demo clients on a free loopback port, its database in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="kiosk-test-") as folder:
        config = SandboxConfig(
            db_path=Path(folder) / "sandbox.db", demo_clients=True, population=population, seed=seed, **switches
        )
        with start_sandbox(config) as running:
            yield running


def settings_for(running: RunningSandbox, mode: Mode, cache_dir: Path, **extra: object) -> Settings:
    """A kiosk of this mode on the sandbox; its cache key and audit journal beside (never inside) `cache_dir`, so a
    test or a benchmark leaves nothing in the user's own folders."""
    client = f"demo-{mode.value}"
    places: dict[str, object] = {
        "cache_key_file": cache_dir.with_name(f"{cache_dir.name}.key"),
        "audit_journal_dir": cache_dir.with_name(f"{cache_dir.name}-audit-journal"),
    }
    return load_settings(
        server=running.base_url,
        client_id=client,
        client_secret=client,
        trust_list=running.trust_list_path,
        mode=mode,
        cache_dir=cache_dir,
        config_file=None,
        **(places | extra),
    )


async def sign_in(app: KioskApp, staff_id: str | None = None) -> None:
    """Sign a demo staff member in on the app's lookup service before the app runs, as its sign-in dialog would: the
    mode's own (`STAFF_OF_MODE`) unless another is named. An app that signs nobody in (the lobby) is left as it is."""
    if not app.staff_lock.required:
        return
    staff_id = staff_id or STAFF_OF_MODE[app.settings.mode]
    result = await app.services.lookup.get().sign_in(staff_id, STAFF_PINS[staff_id])
    if result.staff is None:
        raise AssertionError(f"{staff_id} could not sign in: {result.status.value} ({result.message})")


def wedge_scan(app: App[Any], text: str) -> None:
    """Type `text` and Enter as a wedge scanner does: one burst of key events.

    Each key is stamped a microsecond after the one before, as a scanner sends them. Stamped as they are made, a long
    code (a health card is over a thousand keys) could show a pause of 100 ms or more in the middle, while another
    thread of the process (the app's warm-up, a loopback server) holds the interpreter, and the wedge detector would
    rightly read two runs."""
    start = time.monotonic()
    keys = [events.Key(c if c.isalnum() else _character_to_key(c), c) for c in text]
    keys.append(events.Key("enter", "\r"))
    for i, key in enumerate(keys):
        key.time = start + i * 1e-6
        app.post_message(key)


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], within: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fails the test (AssertionError) after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        faults = getattr(pilot.app, "faults", [])
        if faults:
            raise AssertionError(f"the app met unexpected faults: {faults}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not reach the expected state within {within} s")
        await asyncio.sleep(0.005)
    await pilot.pause()


async def scan_latencies(population: int, scans: int) -> list[float]:
    """Milliseconds from the first key of a wedge scan to the summary on screen, for `scans` different people."""
    from kiosk.screens.summary import SummaryScreen
    from kiosk.wiring import build_app

    crowd = with_records(population)
    step = max(1, len(crowd) // (scans + 1))
    chosen = [crowd[i * step] for i in range(1, scans + 1)]
    timings: list[float] = []
    with sandbox(population) as running, tempfile.TemporaryDirectory() as cache:
        app = build_app(settings_for(running, Mode.ER, Path(cache) / "cache"))
        await sign_in(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for person in chosen:
                await pilot.press("ctrl+n")
                await pilot.pause()
                started = time.perf_counter()
                wedge_scan(app, cccd_qr_text(person))

                def shown(person_id: str = person.patient_id) -> bool:
                    screen = app.screen
                    return isinstance(screen, SummaryScreen) and screen.patient.id == person_id and screen.is_mounted

                try:
                    await wait_until(pilot, shown, within=15.0)
                except AssertionError:
                    # Say where the app stopped instead (a notice, a dialog, another screen) and why, in its words.
                    stack = [type(s).__name__ for s in app.screen_stack]
                    words = [str(w.render()) for w in app.screen.query("#notice-body, .dialog-box .explain")]
                    raise AssertionError(f"no summary within 15 s: screens {stack}, notice {words}") from None
                timings.append((time.perf_counter() - started) * 1000)
    return timings


if __name__ == "__main__":
    found = asyncio.run(scan_latencies(300, 3))
    print(f"median {statistics.median(found):.1f} ms over {len(found)} scans")
