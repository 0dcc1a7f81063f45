"""The pinned trust list: which keys may sign documents (facilities) and health cards (issuers).

It is a JWKS file provisioned out of band and named in the kiosk's settings; it is never fetched from the server
whose data it checks. Beyond the standard JWK members a key may carry:

- `facility_code` and `facility_name`: the facility that signs shared documents with it;
- `iss`: the SMART Health Card issuer URL it signs cards for.

Only public EC P-256 keys are kept (documents and cards are ES256); a key with a private part is refused, because a
trust list that leaks signing keys is a configuration error worth stopping for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joserfc.jwk import ECKey


class TrustListError(Exception):
    """The trust list cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One trusted public key and whom it speaks for."""

    kid: str
    key: ECKey
    facility_code: str | None = None
    facility_name: str | None = None
    issuer: str | None = None

    @property
    def signer(self) -> str:
        """Who signs with this key, as shown next to a document or card."""
        if self.facility_code or self.facility_name:
            return " ".join(p for p in (self.facility_code, self.facility_name) if p)
        return self.issuer or self.kid


class TrustList:
    """The trusted keys, looked up by `kid` or by card issuer."""

    def __init__(self, keys: Iterable[TrustedKey] = (), source: str = "<memory>") -> None:
        self.source = source
        self._by_kid: dict[str, TrustedKey] = {}
        for key in keys:
            self._by_kid[key.kid] = key

    @classmethod
    def empty(cls) -> TrustList:
        return cls()

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any], source: str = "<memory>") -> TrustList:
        raw_keys = jwks.get("keys")
        if not isinstance(raw_keys, list):
            raise TrustListError(f"{source}: not a JWKS (no `keys` list)")
        keys: list[TrustedKey] = []
        for position, raw in enumerate(raw_keys):
            if not isinstance(raw, dict):
                raise TrustListError(f"{source}: key {position} is not a JSON object")
            keys.append(_trusted_key(raw, f"{source}: key {position}"))
        return cls(keys, source)

    @classmethod
    def load(cls, path: Path) -> TrustList:
        return cls.from_jwks(read_jwks(path), str(path))

    def key(self, kid: str) -> TrustedKey | None:
        return self._by_kid.get(kid)

    def issuer_keys(self, issuer: str) -> list[TrustedKey]:
        wanted = issuer.rstrip("/")
        return [k for k in self._by_kid.values() if k.issuer is not None and k.issuer.rstrip("/") == wanted]

    def facility_keys(self) -> list[TrustedKey]:
        return [k for k in self._by_kid.values() if k.facility_code is not None]

    def __len__(self) -> int:
        return len(self._by_kid)

    def __iter__(self) -> Any:
        return iter(self._by_kid.values())


def read_jwks(path: Path) -> dict[str, Any]:
    """The JWKS in a trust-list file, checked for shape only (JSON, a `keys` list); `TrustList.from_jwks` imports the
    keys. Two steps, because importing keys loads JOSE: a kiosk refuses a missing or broken file before its first
    screen, and imports the keys after it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrustListError(f"{path}: the trust list file does not exist") from None
    except OSError as exc:
        raise TrustListError(f"{path}: cannot read the trust list ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TrustListError(f"{path}: the trust list is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise TrustListError(f"{path}: the trust list is not a JWKS (no `keys` list)")
    return data


def _trusted_key(raw: Mapping[str, Any], where: str) -> TrustedKey:
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    if raw.get("kty") != "EC" or raw.get("crv") != "P-256":
        raise TrustListError(f"{where}: only EC P-256 (ES256) keys are accepted")
    if "d" in raw:
        raise TrustListError(f"{where}: holds a private key; a trust list must carry public keys only")
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TrustListError(f"{where}: has no `kid`")
    public = {name: raw[name] for name in ("kty", "crv", "x", "y") if name in raw}
    try:
        key = ECKey.import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise TrustListError(f"{where}: not a usable EC public key ({exc})") from None

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) and value else None

    return TrustedKey(
        kid=kid, key=key, facility_code=text("facility_code"), facility_name=text("facility_name"), issuer=text("iss")
    )
