"""The kiosk app: from a wedge scan to the summary on screen, and how soon the app takes input after start.

Scan to summary: the sandbox runs with the demo population, the ER app is built by `build_app` (the same function
`kiosk run` uses) and driven by Textual's pilot; each scan is a CCCD QR text sent as a keyboard-wedge burst (one key
event per character, microseconds apart, then Enter), and the clock stops when the patient's summary screen is
mounted and painted. Cold start: `kiosk run --ready-check` in a fresh interpreter, from process start to the moment
the first screen takes keys.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import Figure, Size

SCAN_FLOOR_MS = 500.0
COLD_START_FLOOR_S = 1.0
ROOT = Path(__file__).resolve().parents[1]


def _cold_start_seconds(runs: int) -> list[float]:
    env = {
        **os.environ,
        "KIOSK_SERVER": "http://127.0.0.1:9/fhir",
        "KIOSK_CONFIG_FILE": os.devnull,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    times: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        # The cache and its key (outside the cache folder) go with the run, not into the user's data folder.
        env["KIOSK_CACHE_DIR"] = str(Path(work) / "cache")
        env["KIOSK_CACHE_KEY_FILE"] = str(Path(work) / "cache.key")
        for _ in range(runs):
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "run", "--ready-check"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert process.stdout is not None
            line = process.stdout.readline()
            ready = time.perf_counter()
            process.wait(timeout=30)
            if not line.startswith("ready"):
                raise RuntimeError("the app did not report ready")
            times.append(ready - started)
    return times


def run(size: Size) -> list[Figure]:
    from testkit.kiosk import scan_latencies

    population = 10_000 if size is Size.FULL else 1_000
    scans = 30 if size is Size.FULL else 8
    latencies = asyncio.run(scan_latencies(population, scans))
    cold = _cold_start_seconds(5 if size is Size.FULL else 2)
    ordered = sorted(latencies)
    return [
        Figure(
            benchmark="app",
            name=f"wedge scan to summary on screen, median ({population:,} people)",
            value=statistics.median(latencies),
            unit="ms",
            floor=SCAN_FLOOR_MS,
            note=f"{scans} scans, pilot-driven ER app against the sandbox over loopback",
        ),
        Figure(
            benchmark="app",
            name=f"wedge scan to summary on screen, p95 ({population:,} people)",
            value=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            unit="ms",
        ),
        Figure(
            benchmark="app",
            name="cold start to ready for input, median",
            value=statistics.median(cold),
            unit="s",
            floor=COLD_START_FLOOR_S,
            note="`kiosk run --ready-check` in a fresh interpreter",
        ),
    ]
