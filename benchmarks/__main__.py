"""Run every benchmark and write `report.json` and `report.md`.

python -m benchmarks --smoke          # small sizes: proves each benchmark runs (CI)
python -m benchmarks --full           # the sizes the claims are made at (under 15 minutes on 2 cores)
python -m benchmarks --only matching  # one benchmark module (repeatable)

Generated sandbox databases that several benchmarks use (`benchmarks.shared.shared_sandbox_db`) are built once per
run in a temporary folder removed at the end, or kept in `--shared DIR` for the next run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Final

import benchmarks
from benchmarks.report import Figure, ModuleRun, Size, write_report
from benchmarks.shared import ENV_DIR, stop_shared_sandboxes

FULL_BUDGET_S: Final = 20 * 60.0
"""The whole full-size report must take less than this on the reference machine (2 cores); the hospital run, two
phases of 50 kiosk processes, takes four and a half minutes of it."""


def _run_module(name: str, size: Size) -> tuple[list[Figure], ModuleRun]:
    started = time.perf_counter()
    print(f"-- {name} ({size.value})", flush=True)
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        got: list[Figure] = module.run(size)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
        seconds = time.perf_counter() - started
        return [], ModuleRun(module=name, seconds=seconds, error=f"{type(exc).__name__}: {exc}")
    for f in got:
        mark = {True: "ok", False: "MISSED", None: ""}[f.passed]
        print(f"   {f.name}: {f.value:.4g} {f.unit} {mark}", flush=True)
    seconds = time.perf_counter() - started
    print(f"   ({seconds:.1f} s)", flush=True)
    return got, ModuleRun(module=name, seconds=seconds, figures=len(got))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_const", dest="size", const=Size.SMOKE)
    group.add_argument("--full", action="store_const", dest="size", const=Size.FULL)
    parser.add_argument("--only", action="append", default=[], help="module name without bench_ (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--shared", type=Path, help="keep the generated sandbox databases here (reused next run)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its floor")
    args = parser.parse_args(argv)
    size: Size = args.size or Size.SMOKE

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if args.only:
        unknown = sorted(set(args.only) - {n.removeprefix("bench_") for n in names})
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)}")
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    figures: list[Figure] = []
    runs: list[ModuleRun] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-shared-") as scratch:
        os.environ.setdefault(ENV_DIR, str(args.shared or scratch))
        try:
            for name in names:
                got, record = _run_module(name, size)
                figures.extend(got)
                runs.append(record)
        finally:
            stop_shared_sandboxes()
    seconds = time.perf_counter() - started
    if size is Size.FULL and not args.only:
        figures.append(
            Figure(
                benchmark="report",
                name="every benchmark, full size, one command",
                value=seconds,
                unit="s",
                floor=FULL_BUDGET_S,
                note=", ".join(f"{r.module.removeprefix('bench_')} {r.seconds:.0f} s" for r in runs),
            )
        )
    json_path, md_path = write_report(figures, size, args.out, seconds, runs)
    print(f"report: {json_path} {md_path} ({seconds:.0f} s)")
    failures = [r for r in runs if r.error is not None]
    if failures:
        print(
            "benchmarks that failed to run:\n  " + "\n  ".join(f"{r.module}: {r.error}" for r in failures),
            file=sys.stderr,
        )
        return 1
    missed = [f for f in figures if f.passed is False]
    if args.strict and missed:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
