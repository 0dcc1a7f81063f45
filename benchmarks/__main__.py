"""Run every benchmark and write `report.json` and `report.md`.

python -m benchmarks --smoke          # small sizes: proves each benchmark runs (CI)
python -m benchmarks --full           # the sizes the claims are made at
python -m benchmarks --only matching  # one benchmark module
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

import benchmarks
from benchmarks.report import Figure, Size, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_const", dest="size", const=Size.SMOKE)
    group.add_argument("--full", action="store_const", dest="size", const=Size.FULL)
    parser.add_argument("--only", action="append", default=[], help="module name without bench_ (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its floor")
    args = parser.parse_args(argv)
    size: Size = args.size or Size.SMOKE

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    figures: list[Figure] = []
    failures: list[str] = []
    started = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        print(f"-- {name} ({size.value})", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        try:
            got: list[Figure] = module.run(size)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for f in got:
            mark = {True: "ok", False: "MISSED", None: ""}[f.passed]
            print(f"   {f.name}: {f.value:.4g} {f.unit} {mark}", flush=True)
        figures.extend(got)
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)
    json_path, md_path = write_report(figures, size, args.out, time.perf_counter() - started)
    print(f"report: {json_path} {md_path}")
    if failures:
        print("benchmarks that failed to run:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    missed = [f for f in figures if f.passed is False]
    if args.strict and missed:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
