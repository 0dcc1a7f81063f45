"""Where the cache's key comes from, and the separate keys derived from it.

The master key is 32 random bytes kept outside the cache folder (a key file, created 0600 in a 0700 folder and
refused when others may read it, or an entry of the OS keyring: `offline_cache.key_store`), or is derived from a
passphrase with a slow KDF. New caches derive with Argon2id (RFC 9106's second recommended option, with twice its
memory: 3 passes over 128 MiB, 4 lanes; about 0.3 s once per start, and as much per offline guess); the KDF's name,
parameters and salt are kept in the database's meta, so a cache made under the former scrypt (N=2^15, salt alone in
`kdf_salt`) still opens with the parameters it was made with. A passphrase must pass a strength floor
(`offline_cache.passphrase`). From the master key HKDF-SHA256 derives three keys with distinct labels, so no key
serves two purposes: one encrypts records (AES-256-GCM), one keys the blind indexes (HMAC-SHA256), and one makes the
key check value stored in the database, which tells a wrong key at open time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from offline_cache.errors import CacheCorruptError, CacheKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
LEGACY_SCRYPT_N = 2**15
"""The scrypt cost of caches made before the KDF parameters were stored: kept only to open them."""
_CHECK_MESSAGE = b"offline-cache key check v1"
_MAX_MEMORY_KIB = 1024 * 1024
"""Parameters read back from a file are bounded, so a doctored file cannot make an open take all the memory."""


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"offline-cache/" + label).derive(master)


@dataclass(frozen=True, slots=True)
class Kdf:
    """A passphrase KDF with its parameters and salt, as kept in the database's meta (`kdf`, JSON)."""

    name: str
    salt: bytes
    iterations: int
    memory_kib: int
    lanes: int

    @classmethod
    def new(cls) -> Kdf:
        """The KDF of a new cache: Argon2id, 3 passes, 128 MiB, 4 lanes, a fresh 16-byte salt."""
        return cls("argon2id", secrets.token_bytes(16), iterations=3, memory_kib=128 * 1024, lanes=4)

    @classmethod
    def legacy_scrypt(cls, salt: bytes) -> Kdf:
        """The scrypt of caches that kept only `kdf_salt` (N=2^15, r=8, p=1)."""
        return cls("scrypt", salt, iterations=LEGACY_SCRYPT_N, memory_kib=32 * 1024, lanes=1)

    def encode(self) -> bytes:
        fields = {"name": self.name, "salt": self.salt.hex(), "iterations": self.iterations}
        return json.dumps(fields | {"memory_kib": self.memory_kib, "lanes": self.lanes}).encode("ascii")

    @classmethod
    def decode(cls, raw: bytes, path: Path | None = None) -> Kdf:
        try:
            fields = json.loads(raw)
            kdf = cls(
                str(fields["name"]),
                bytes.fromhex(fields["salt"]),
                int(fields["iterations"]),
                int(fields["memory_kib"]),
                int(fields["lanes"]),
            )
        except (ValueError, KeyError, TypeError):
            raise CacheCorruptError("the offline cache's passphrase KDF parameters are unreadable", path) from None
        sane = (
            kdf.name in ("argon2id", "scrypt")
            and len(kdf.salt) >= 16
            and 1 <= kdf.iterations <= (2**18 if kdf.name == "scrypt" else 64)
            and (kdf.name != "scrypt" or (kdf.iterations > 1 and kdf.iterations & (kdf.iterations - 1) == 0))
            and 8 <= kdf.memory_kib <= _MAX_MEMORY_KIB
            and 1 <= kdf.lanes <= 16
        )
        if not sane:
            raise CacheCorruptError("the offline cache's passphrase KDF parameters are out of bounds", path)
        return kdf

    def derive(self, passphrase: str) -> bytes:
        """The master key for a passphrase."""
        if not passphrase:
            raise CacheKeyError("the cache passphrase is empty")
        secret = passphrase.encode("utf-8")
        if self.name == "scrypt":
            return Scrypt(salt=self.salt, length=KEY_BYTES, n=self.iterations, r=8, p=self.lanes).derive(secret)
        return Argon2id(
            salt=self.salt,
            length=KEY_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(secret)


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
    try:
        return write_key_file(path, secrets.token_bytes(KEY_BYTES))
    except FileExistsError:
        if not path.is_file():  # a file where the key's folder should be
            raise
        return read_key_file(path)


def write_key_file(path: Path, key: bytes) -> bytes:
    """Write `key` to a new key file (0600, its folder made 0700), whole or not at all; `FileExistsError` when the
    file exists. The key goes to a temporary name first and is linked into place, so a crash never leaves a
    half-written key file, and an existing one is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = key.hex().encode("ascii") + b"\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    _write_new(temporary, data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (FAT on a removable volume): written in place instead
        _write_new(path, data)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return key


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` 0600 (never an existing one), write `data` and flush it to the disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a new or removed name in `directory` durable (best effort: some file systems refuse)."""
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
