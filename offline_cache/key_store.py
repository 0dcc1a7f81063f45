"""Where the master key is kept when it is not derived from a passphrase: a key file, or the OS keyring.

Never beside the database: whoever copies the cache folder must not get the key with it. `OfflineCache.open`
refuses a key file inside the cache folder and moves the key of an older install (`<cache folder>/key`) out on first
open (see `offline_cache.cache`). The OS keyring (through the maintained `keyring` library: Secret Service on a
Linux desktop, Keychain on macOS, Credential Locker on Windows) keeps the key encrypted under the user's login, out
of every file of the kiosk; a key file outside the folder (0600, its folder 0700) is the fallback where no keyring
backend is usable, as on a headless Debian machine, where `keyring.get_keyring()` is its `fail` backend.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from offline_cache.errors import CacheKeyError
from offline_cache.keys import KEY_BYTES, create_key_file, read_key_file, write_key_file

log = logging.getLogger(__name__)

StoreKind = Literal["file", "keyring"]


class KeyStore(Protocol):
    """A place that keeps one master key."""

    @property
    def kind(self) -> StoreKind: ...

    def describe(self) -> str:
        """What an error or a log line names: the file's path, or the keyring entry (never the key)."""
        ...

    def load(self) -> bytes | None:
        """The key, or None when there is none yet; `CacheKeyError` when it cannot be read or is unsafe."""
        ...

    def create(self) -> bytes:
        """Make and keep a new random key (or use the one another process just made)."""
        ...

    def adopt(self, key: bytes) -> None:
        """Keep this key (moved from elsewhere), whole or not at all."""
        ...


@dataclass(frozen=True)
class KeyFile:
    """A key file: 32 random bytes in hex, 0600."""

    path: Path

    @property
    def kind(self) -> StoreKind:
        return "file"

    def describe(self) -> str:
        return f"key file {self.path}"

    def load(self) -> bytes | None:
        return read_key_file(self.path) if self.path.exists() else None

    def create(self) -> bytes:
        return create_key_file(self.path)

    def adopt(self, key: bytes) -> None:
        write_key_file(self.path, key)


def keyring_problem() -> str | None:
    """Why the OS keyring cannot keep the key here, or None when a usable backend is there."""
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError as exc:  # a broken install: the key file still works
        return f"the keyring library cannot be loaded ({type(exc).__name__})"
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return "no OS keyring backend is usable on this machine"
    if type(backend).__module__.startswith("keyrings.alt"):
        # keyrings.alt keeps secrets in a file of the user's home: no better than the key file, and less plain.
        return f"the keyring backend {type(backend).__name__} keeps secrets in a file, not in an OS keyring"
    return None


@dataclass(frozen=True)
class KeyringEntry:
    """An entry of the OS keyring (`keyring` library): the key in hex under a service and a user name."""

    service: str
    username: str

    @property
    def kind(self) -> StoreKind:
        return "keyring"

    def describe(self) -> str:
        return f"OS keyring entry {self.service!r} / {self.username!r}"

    def load(self) -> bytes | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            stored = keyring.get_password(self.service, self.username)
        except KeyringError as exc:
            raise CacheKeyError(f"the {self.describe()} cannot be read: {type(exc).__name__}") from None
        if stored is None:
            return None
        try:
            key = bytes.fromhex(stored.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise CacheKeyError(f"the {self.describe()} is malformed (expected {KEY_BYTES} bytes in hex)")
        return key

    def create(self) -> bytes:
        self.adopt(secrets.token_bytes(KEY_BYTES))
        # A keyring has no create-if-absent: if another process wrote at the same moment, the last write stands, and
        # reading it back makes both use that one.
        stored = self.load()
        if stored is None:
            raise CacheKeyError(f"the {self.describe()} did not keep the key written to it")
        return stored

    def adopt(self, key: bytes) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(self.service, self.username, key.hex())
        except KeyringError as exc:
            raise CacheKeyError(f"the {self.describe()} cannot be written: {type(exc).__name__}") from None
        if self.load() != key:
            raise CacheKeyError(f"the {self.describe()} did not keep the key written to it")
