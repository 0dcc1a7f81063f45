"""The kiosk's one way to read its pinned trust list (`KIOSK_TRUST_LIST`, or `kiosk scan --trust-list`).

Reading is in two steps because they cost very different amounts: the file is read and checked as a JWKS at once
(JSON only, so `kiosk run` refuses a missing or broken file before its first screen), and its keys are imported
later (JOSE, slow), which the app does after the first screen is up. Every fault is a `CommandError` saying which
file and what is wrong with it, never a traceback. `TrustAudit` is where `kiosk trust` records each change to
the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.output import CommandError
from lookup import TrustList, TrustListError, read_jwks


@dataclass(frozen=True, slots=True)
class TrustFile:
    """A trust-list file read and checked as a JWKS, its keys not yet imported; no file means no trusted key."""

    path: Path | None
    jwks: dict[str, Any]

    @classmethod
    def read(cls, path: Path | None) -> TrustFile:
        """Read `path` (None: no trust list, so every signature shows as `unknown-signer`)."""
        if path is None:
            return cls(None, {"keys": []})
        try:
            return cls(path, read_jwks(path))
        except TrustListError as exc:
            raise CommandError(str(exc)) from None

    def trust_list(self) -> TrustList:
        """The pinned keys; a key the kiosk cannot trust (not EC P-256, private, without `kid`) is a `CommandError`."""
        if self.path is None:
            return TrustList.empty()
        try:
            return TrustList.from_jwks(self.jwks, source=str(self.path))
        except TrustListError as exc:
            raise CommandError(str(exc)) from None


TRUST_AUDIT_SUFFIX = ".audit.jsonl"


def trust_audit_path(trust_list: Path) -> Path:
    """Where changes to `trust_list` are recorded: `<trust list>.audit.jsonl` beside it, so the file's history goes
    wherever the file goes and needs no setting of its own."""
    return trust_list.with_name(trust_list.name + TRUST_AUDIT_SUFFIX)


class TrustAudit:
    """The trust list's audit file, open and locked for one change: one JSON line per change, 0600.

    The exclusive lock is held from before the list is read until the change is recorded, so two `kiosk trust`
    commands at once cannot both read the old list and lose one change (a revocation, say). Lines are appended with
    one `write` each and flushed to the disk; a line names who changed what (kids, thumbprints, issuers, facility
    codes), never key material."""

    def __init__(self, trust_list: Path) -> None:
        self.path = trust_audit_path(trust_list)
        self._fd: int | None = None

    def __enter__(self) -> TrustAudit:
        import fcntl
        import os

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:
            self.__exit__()
            raise CommandError(f"{self.path}: cannot open the trust list's audit file ({exc.strerror})") from None
        return self

    def __exit__(self, *_: object) -> None:
        import os

        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def record(self, event: dict[str, Any]) -> None:
        import json
        import os

        if self._fd is None:
            raise CommandError(f"{self.path}: the audit file is not open")
        line = (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            os.write(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            raise CommandError(
                f"{self.path}: cannot record the change in the trust list's audit file ({exc.strerror})"
            ) from None
