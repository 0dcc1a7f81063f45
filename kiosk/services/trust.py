"""The kiosk's one way to read its pinned trust list (`KIOSK_TRUST_LIST`, or `kiosk scan --trust-list`).

Reading is in two steps because they cost very different amounts: the file is read and checked as a JWKS at once
(JSON only, so `kiosk run` refuses a missing or broken file before its first screen), and its keys are imported
later (JOSE, slow), which the app does after the first screen is up. Every fault is a `CommandError` saying which
file and what is wrong with it, never a traceback.
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
