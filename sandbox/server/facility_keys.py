"""The facilities' signing keys of one sandbox, and the trust list made of their public halves.

The keys come from the system's random source the first time a sandbox starts on a database, and are kept beside
that database in `<db stem>-facility-keys.json` (private JWKs, readable by the owner only, written all at once);
every later start on the same database loads them, so documents signed and stored before a restart still verify.
The population seed, which anyone may know, decides nothing about them: two sandboxes made from the same seed sign
with different keys. A key's `kid` is the facility code and the key's RFC 7638 thumbprint, so a document signed by
another sandbox names a key this one's trust list does not hold (`unknown-signer`). Generated databases are
copied from a template shared by every sandbox on the machine (`loader.cached_template`), so keys are never kept
in the database itself.

The trust list written out carries public keys only, and replaces only a file that already is a trust list of
facility keys: anything else at that path is left as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from lookup.trust.trust_list import TrustList, TrustListError, read_jwks
from sandbox.synthetic.facilities import FACILITIES, FACILITIES_BY_CODE

KEY_FILE_SUFFIX: Final = "-facility-keys.json"
_CURVE: Final = "P-256"
_TRUST_LIST_LIMIT: Final = 1 << 20
"""A trust list of every facility is a few kilobytes; a bigger file is something else and is not read whole."""


class FacilityKeysError(ValueError):
    """The key file beside a database cannot be used; the message names the file and what is wrong, never a key."""


class NotATrustListError(ValueError):
    """The path the trust list would be written to holds something else, which is left as it is."""


def key_file_for(db_path: Path) -> Path:
    """Where the facility keys of the sandbox serving `db_path` are kept."""
    return db_path.with_name(f"{db_path.stem}{KEY_FILE_SUFFIX}")


class FacilityKeys:
    """The private signing key of every facility, for one sandbox."""

    def __init__(self, keys: Mapping[str, ECKey]) -> None:
        missing = [f.code for f in FACILITIES if f.code not in keys]
        if missing:
            raise ValueError(f"no signing key for facilities {', '.join(missing)}")
        self._keys = dict(keys)
        self._kids = {code: f"facility-{code}-{key.thumbprint()}" for code, key in self._keys.items()}

    @classmethod
    def generate(cls) -> FacilityKeys:
        """New keys from the system's random source."""
        return cls({f.code: ECKey.generate_key(_CURVE) for f in FACILITIES})

    @classmethod
    def for_database(cls, db_path: Path) -> FacilityKeys:
        """The keys kept beside `db_path`, made now when there are none yet (or for a facility added since)."""
        path = key_file_for(db_path)
        if not path.exists():
            made = cls.generate()
            if _write_file(path, made._private_jwks(), mode=0o600, replace=False):
                return made
            # Another start on the same database made its keys first: sign with those.
        found = _read_key_file(path)
        if all(f.code in found for f in FACILITIES):
            return cls(found)
        completed = cls({f.code: found.get(f.code) or ECKey.generate_key(_CURVE) for f in FACILITIES})
        _write_file(path, completed._private_jwks(), mode=0o600, replace=True)
        return completed

    def signing_key(self, facility_code: str) -> ECKey:
        return self._keys[facility_code]

    def kid(self, facility_code: str) -> str:
        """The key id documents signed by the facility name: changes with the key, never with the seed."""
        return self._kids[facility_code]

    def trust_list(self) -> dict[str, Any]:
        """The JWKS of every facility's public key, each with `facility_code` and `facility_name`."""
        return {"keys": [self._jwk(f.code, private=False) for f in FACILITIES]}

    def fingerprint(self) -> str:
        """Names this set of keys without revealing them: equal only for the same public keys."""
        canonical = json.dumps(self.trust_list(), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(canonical).hexdigest()

    def _jwk(self, code: str, *, private: bool) -> dict[str, Any]:
        facility = FACILITIES_BY_CODE[code]
        members = self._keys[code].as_dict(private=private)
        # Members in one order, so the same keys always make the same file.
        jwk: dict[str, Any] = {name: members[name] for name in ("kty", "crv", "x", "y", "d") if name in members}
        jwk.update(kid=self.kid(code), use="sig", alg="ES256", facility_code=facility.code, facility_name=facility.name)
        return jwk

    def _private_jwks(self) -> bytes:
        keys = [self._jwk(f.code, private=True) for f in FACILITIES]
        return json.dumps({"keys": keys}, ensure_ascii=False, indent=2).encode("utf-8")


def _read_key_file(path: Path) -> dict[str, ECKey]:
    """The keys in an existing key file, by facility code; refuses a file other users may read, or a damaged one."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise FacilityKeysError(f"{path}: cannot read the facility signing keys ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FacilityKeysError(f"{path}: the facility signing keys must be a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FacilityKeysError(
                f"{path}: the facility signing keys may be read by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); make the file private with chmod 600"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
    except ValueError:
        raise FacilityKeysError(f"{path}: the facility signing keys are not valid JSON") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise FacilityKeysError(f"{path}: the facility signing keys are not a JWKS (no `keys` list)")
    found: dict[str, ECKey] = {}
    for position, entry in enumerate(entries):
        where = f"{path}: key {position}"
        code = entry.get("facility_code") if isinstance(entry, dict) else None
        facility = FACILITIES_BY_CODE.get(code) if isinstance(code, str) else None
        if facility is None or not isinstance(entry, dict):
            raise FacilityKeysError(f"{where}: not the key of a known facility")
        if entry.get("kty") != "EC" or entry.get("crv") != _CURVE or "d" not in entry:
            raise FacilityKeysError(f"{where}: not a private EC {_CURVE} key")
        try:
            key = ECKey.import_key({name: entry[name] for name in ("kty", "crv", "x", "y", "d") if name in entry})
        except (JoseError, ValueError, TypeError):
            raise FacilityKeysError(f"{where}: not a usable EC {_CURVE} private key") from None
        found[facility.code] = key
    return found


def check_trust_list_target(path: Path) -> None:
    """Raise `NotATrustListError` unless `path` is free or already holds a trust list of public facility keys
    (which may then be replaced). Run before a long start, so a wrong path fails at once."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise NotATrustListError(f"{path}: cannot check what the file holds ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotATrustListError(f"{path}: exists and is not a file; the trust list is not written there")
    if info.st_size > _TRUST_LIST_LIMIT:
        raise NotATrustListError(f"{path}: exists and is not a trust list (too big); it was left as it is")
    try:
        existing = TrustList.from_jwks(read_jwks(path), str(path))
    except TrustListError as exc:
        detail = str(exc).removeprefix(f"{path}: ")
        raise NotATrustListError(
            f"{path}: exists and is not a trust list of facility keys ({detail}); it was left as it is"
        ) from None
    if len(existing.facility_keys()) != len(existing):
        raise NotATrustListError(
            f"{path}: is a trust list that also holds keys other than facility keys (such as card issuers'); "
            "it was left as it is"
        )


def write_trust_list(path: Path, keys: FacilityKeys) -> Path:
    """Write the facilities' public keys to `path`, replacing only an earlier trust list (`NotATrustListError`
    otherwise)."""
    check_trust_list_target(path)
    document = json.dumps(keys.trust_list(), ensure_ascii=False, indent=2).encode("utf-8")
    _write_file(path, document, mode=0o644, replace=True)
    return path


def _write_file(path: Path, content: bytes, *, mode: int, replace: bool) -> bool:
    """Write `content` to `path` all at once (a reader sees the old file or the new one, never half of one).

    Without `replace`, a file that appeared meanwhile is kept and False returned: two starts on one database agree
    on the first keys written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
            except OSError:
                # A file system without hard links: the same check, with a narrow window between test and write.
                if path.exists():
                    return False
                os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _sync_directory(path.parent)
    return True


def _sync_directory(directory: Path) -> None:
    """Make the new directory entry durable, so keys that signed stored documents survive a power cut."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
