"""Where the cache's key comes from, and the separate keys derived from it.

The master key is 32 random bytes in a key file (created 0600 on first run, refused when others may read it) or is
derived from a passphrase with scrypt (its salt kept in the database). From it HKDF-SHA256 derives three keys with
distinct labels, so no key serves two purposes: one encrypts records (AES-256-GCM), one keys the blind indexes
(HMAC-SHA256), and one makes the key check value stored in the database, which tells a wrong key at open time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from offline_cache.errors import CacheCorruptError, CacheKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
SCRYPT_N = 2**15
"""scrypt cost: about 0.1 s and 32 MiB on a kiosk, once per start, which is what an offline guess costs too."""
_CHECK_MESSAGE = b"offline-cache key check v1"


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"offline-cache/" + label).derive(master)


def derive_from_passphrase(passphrase: str, salt: bytes) -> bytes:
    """The master key for a passphrase and the database's salt."""
    if not passphrase:
        raise CacheKeyError("the cache passphrase is empty")
    return Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=8, p=1).derive(passphrase.encode("utf-8"))


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def _check_private(path: Path, fd: int) -> None:
    info = os.fstat(fd)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CacheKeyError(
            f"the cache key file {path} may be read by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            "make it private with chmod 600",
            path,
        )


def read_key_file(path: Path) -> bytes:
    """The master key in an existing key file; refuses a file other users may read, or one that is malformed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise CacheKeyError(f"the cache key file {path} does not exist", path) from None
    except OSError as exc:
        raise CacheKeyError(f"the cache key file {path} cannot be read: {exc.strerror}", path) from None
    try:
        _check_private(path, fd)
        raw = os.read(fd, 4 * KEY_BYTES)
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise CacheKeyError(f"the cache key file {path} is malformed (expected {KEY_BYTES} bytes in hex)", path)
    return key


def create_key_file(path: Path) -> bytes:
    """Write a new random key, readable by its owner only; if another process just made one, use that one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    try:
        os.write(fd, key.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)
    return key


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class CacheKeys:
    """The keys derived from one master key: record encryption, blind index, and key check."""

    encryption: bytes
    index: bytes
    check: bytes

    @classmethod
    def from_master(cls, master: bytes) -> CacheKeys:
        if len(master) != KEY_BYTES:
            raise CacheKeyError(f"the cache master key must be {KEY_BYTES} bytes")
        return cls(_derive(master, b"encryption"), _derive(master, b"blind-index"), _derive(master, b"key-check"))

    def check_value(self) -> bytes:
        """A value stored in the database: equal only under the same master key, and revealing nothing about it."""
        return hmac.new(self.check, _CHECK_MESSAGE, hashlib.sha256).digest()


class Blinder:
    """Blind indexes: HMAC-SHA256 of a record key or index key, so equal values can be found but not read."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def blind(self, domain: bytes, value: str) -> bytes:
        mac = self._mac.copy()
        mac.update(domain + b"\x00" + value.encode("utf-8"))
        return mac.digest()


class Sealer:
    """AES-256-GCM with a fresh random 96-bit nonce per write; the associated data binds a ciphertext to its row."""

    def __init__(self, key: bytes, label: str, path: Path | None = None) -> None:
        self._aead = AESGCM(key)
        self._label = label
        self._path = path

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except InvalidTag:
            raise CacheCorruptError(
                f"a row of the offline cache {self._label} fails authentication (damaged or moved)", self._path
            ) from None
