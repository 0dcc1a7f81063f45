"""Figures and the report they make: each figure beside its floor and, where one exists, its baseline."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Size(StrEnum):
    """How big a run is: `smoke` proves the benchmark runs (CI), `full` measures the claims."""

    SMOKE = "smoke"
    FULL = "full"


class Figure(BaseModel):
    """One measured number and the floor it must beat."""

    model_config = ConfigDict(frozen=True)

    benchmark: str
    name: str
    value: float
    unit: str
    floor: float | None = None
    better: Literal["higher", "lower"] = "lower"
    baseline: float | None = None
    baseline_label: str | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.floor is None:
            return None
        return self.value >= self.floor if self.better == "higher" else self.value <= self.floor

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (>1 is better)."""
        if self.baseline is None or self.baseline == 0 or self.value == 0:
            return None
        return self.value / self.baseline if self.better == "higher" else self.baseline / self.value


class ModuleRun(BaseModel):
    """How one benchmark module ran: its time, and why it failed when it did."""

    model_config = ConfigDict(frozen=True)

    module: str
    seconds: float
    figures: int = 0
    error: str | None = None


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}"


def write_report(
    figures: Sequence[Figure], size: Size, out_dir: Path, seconds: float, runs: Sequence[ModuleRun] = ()
) -> tuple[Path, Path]:
    """Write `report.json` (every figure, its pass mark and ratio, and each module's time) and `report.md`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    md_path = out_dir / "report.md"
    payload = {
        "size": size.value,
        "seconds": round(seconds, 1),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "figures": [f.model_dump() | {"passed": f.passed, "ratio": f.ratio} for f in figures],
        "modules": [r.model_dump() for r in runs],
    }
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [
        f"# Benchmark report ({size.value}, {seconds:.0f} s)",
        "",
        "| benchmark | figure | value | unit | floor | baseline | x baseline | pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        floor = f"{'>=' if f.better == 'higher' else '<='} {_fmt(f.floor)}" if f.floor is not None else ""
        base = f"{_fmt(f.baseline)} ({f.baseline_label})" if f.baseline is not None else ""
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        ok = {True: "yes", False: "NO", None: ""}[f.passed]
        lines.append(f"| {f.benchmark} | {f.name} | {_fmt(f.value)} | {f.unit} | {floor} | {base} | {ratio} | {ok} |")
    if runs:
        lines += ["", "| module | seconds | figures | error |", "|---|---|---|---|"]
        lines += [f"| {r.module} | {r.seconds:.1f} | {r.figures} | {r.error or ''} |" for r in runs]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return json_path, md_path
