"""Sending a finished file to the system print service (CUPS's `lp`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kiosk.printing.errors import PrintError

PRINTER_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,126}")
"""CUPS queue names; never starting with `-`, so a name is never read as an option."""
LP_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class PrintQueue:
    """A print queue of the system print service, checked before anything is written, so a print that cannot be
    sent fails before the file is made."""

    name: str
    lp: str

    @classmethod
    def named(cls, name: str) -> PrintQueue:
        """The queue `name`; `PrintError` when the name is no queue name or `lp` is not installed."""
        if PRINTER_NAME.fullmatch(name) is None:
            raise PrintError("the printer name is not a print queue name (letters, digits, _ . @ -)")
        lp = shutil.which("lp")
        if lp is None:
            raise PrintError(
                "cannot print: the `lp` command (the system print service, CUPS: Debian's cups-client) is not installed"
            )
        return cls(name, lp)

    def send(self, path: Path) -> str:
        """Queue `path` with `lp -d NAME -- PATH` and answer lp's own line (the job id); `PrintError` when lp
        refuses. lp's output names the queue and the job, never what is printed."""
        try:
            done = subprocess.run(
                [self.lp, "-d", self.name, "--", str(path)],
                capture_output=True,
                text=True,
                timeout=LP_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrintError(f"lp did not run: {type(exc).__name__}") from None
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1][:200]
            raise PrintError(f"the printer {self.name!r} refused the job: {reason}")
        return done.stdout.strip()[:200]
