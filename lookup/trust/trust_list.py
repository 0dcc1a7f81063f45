"""The pinned trust list: which keys may sign documents (facilities) and health cards (issuers), and until when.

It is a file provisioned out of band and named in the kiosk's settings; it is never fetched from the server whose data
it checks. Its forms (a JWKS whose keys may carry `facility_code`, `facility_name`, `iss`; issuers pinned by URL as in
the SMART Health Card directory snapshot; revocations; local expiry) are described in `lookup.trust.trust_file`.

Only public EC P-256 keys are kept (documents and cards are ES256); a key with a private part is refused, because a
trust list that leaks signing keys is a configuration error worth stopping for. Whether a trusted key may vouch for
something signed at a given time (not revoked, not past its expiry) is `TrustedKey.refusal`, the one rule both card
and document checks use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookup.trust.trust_file import (
    Revocation,
    TrustDocument,
    TrustListError,
    check_shape,
    document_of,
    parse_instant,
    same_issuer,
)

if TYPE_CHECKING:
    from joserfc.jwk import ECKey

__all__ = ["TrustList", "TrustListError", "TrustedKey", "read_jwks"]


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One trusted public key, whom it speaks for, and until when.

    `pinned_issuer` marks a key of an `issuerInfo` entry: trusted for that issuer's cards only, never for a facility
    document."""

    kid: str
    key: ECKey
    facility_code: str | None = None
    facility_name: str | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    pinned_issuer: bool = False
    not_after: dt.datetime | None = None
    revoked: Revocation | None = None

    @property
    def signer(self) -> str:
        """Who signs with this key, as shown next to a document or card."""
        if self.facility_code or self.facility_name:
            return " ".join(p for p in (self.facility_code, self.facility_name) if p)
        return self.issuer or self.kid

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the public key (what a SMART Health Card names as its `kid`)."""
        value: str = self.key.thumbprint()
        return value

    def refusal(self, signed_at: dt.datetime | None) -> str | None:
        """Why this key cannot vouch for something signed at `signed_at` (revoked, or signed after the key's
        expiry), or None when it can. An unknown signing time counts as after the expiry, when there is one."""
        if self.revoked is not None:
            return f"the signing key was revoked on {self.revoked.when}: {self.revoked.reason}"
        if self.not_after is None:
            return None
        if signed_at is None:
            return f"the signing key expired on {self.not_after:%Y-%m-%d %H:%M} UTC and the time of signing is unknown"
        if signed_at.astimezone(dt.UTC) > self.not_after:
            return (
                f"signed on {signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, after the signing key expired "
                f"({self.not_after:%Y-%m-%d %H:%M} UTC)"
            )
        return None


class TrustList:
    """The trusted keys, looked up by `kid` (a kid may be pinned more than once, for different issuers)."""

    def __init__(self, keys: Iterable[TrustedKey] = (), source: str = "<memory>") -> None:
        self.source = source
        self._by_kid: dict[str, list[TrustedKey]] = {}
        for key in keys:
            self._by_kid.setdefault(key.kid, []).append(key)

    @classmethod
    def empty(cls) -> TrustList:
        return cls()

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any], source: str = "<memory>") -> TrustList:
        """The keys of a trust-list object in any of its forms (a plain JWKS is one)."""
        return cls.from_document(document_of(dict(jwks), source), source)

    @classmethod
    def from_document(cls, document: TrustDocument, source: str = "<memory>") -> TrustList:
        keys: list[TrustedKey] = []
        for position, raw in enumerate(document.keys):
            keys.append(_trusted_key(raw, f"{source}: keys[{position}]"))
        for number, entry in enumerate(document.issuer_info):
            issuer_expiry = _instant(entry.not_after)
            for position, raw in enumerate(entry.keys):
                where = f"{source}: issuerInfo[{number}] ({entry.issuer.iss}) keys[{position}]"
                key = _trusted_key(raw, where, issuer=entry.issuer.iss)
                expiry = _earliest(issuer_expiry, _instant(entry.key_not_after.get(key.kid)))
                keys.append(
                    TrustedKey(
                        kid=key.kid,
                        key=key.key,
                        issuer=entry.issuer.iss,
                        issuer_name=entry.issuer.name,
                        pinned_issuer=True,
                        not_after=expiry,
                    )
                )
        revocations = document.revoked
        return cls((_with_revocation(key, revocations) for key in keys), source)

    @classmethod
    def load(cls, path: Path) -> TrustList:
        return cls.from_jwks(read_jwks(path), str(path))

    def key(self, kid: str) -> TrustedKey | None:
        """The first key pinned under `kid`, whatever it is trusted for."""
        found = self._by_kid.get(kid)
        return found[0] if found else None

    def keys_for(self, kid: str) -> list[TrustedKey]:
        """Every key pinned under `kid`."""
        return list(self._by_kid.get(kid, ()))

    def card_key(self, kid: str, iss: str) -> TrustedKey | None:
        """The key pinned under `kid` for the card issuer `iss`, or None."""
        wanted = same_issuer(iss)
        return next((k for k in self._by_kid.get(kid, ()) if k.issuer and same_issuer(k.issuer) == wanted), None)

    def document_key(self, kid: str) -> TrustedKey | None:
        """The key pinned under `kid` that may sign facility documents: not a key of a pinned card issuer."""
        return next((k for k in self._by_kid.get(kid, ()) if not k.pinned_issuer), None)

    def issuer_keys(self, issuer: str) -> list[TrustedKey]:
        wanted = same_issuer(issuer)
        return [k for k in self if k.issuer is not None and same_issuer(k.issuer) == wanted]

    def facility_keys(self) -> list[TrustedKey]:
        return [k for k in self if k.facility_code is not None]

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._by_kid.values())

    def __iter__(self) -> Iterator[TrustedKey]:
        return (key for keys in self._by_kid.values() for key in keys)


def read_jwks(path: Path) -> dict[str, Any]:
    """The trust-list object in a file, checked for shape only (JSON, a `keys` or `issuerInfo` list);
    `TrustList.from_jwks` imports the keys. Two steps, because importing keys loads JOSE: a kiosk refuses a missing or
    broken file before its first screen, and imports the keys after it."""
    import json

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
    return check_shape(data, str(path))


def _instant(text: str | None) -> dt.datetime | None:
    return parse_instant(text) if text is not None else None


def _earliest(first: dt.datetime | None, second: dt.datetime | None) -> dt.datetime | None:
    given = [value for value in (first, second) if value is not None]
    return min(given) if given else None


def _with_revocation(key: TrustedKey, revocations: list[Revocation]) -> TrustedKey:
    for revocation in revocations:
        if revocation.kid != key.kid:
            continue
        if revocation.iss is not None and (
            key.issuer is None or same_issuer(key.issuer) != same_issuer(revocation.iss)
        ):
            continue
        return TrustedKey(
            kid=key.kid,
            key=key.key,
            facility_code=key.facility_code,
            facility_name=key.facility_name,
            issuer=key.issuer,
            issuer_name=key.issuer_name,
            pinned_issuer=key.pinned_issuer,
            not_after=key.not_after,
            revoked=revocation,
        )
    return key


def _trusted_key(raw: Mapping[str, Any], where: str, *, issuer: str | None = None) -> TrustedKey:
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    if not isinstance(raw, Mapping):
        raise TrustListError(f"{where}: is not a JSON object")
    if "d" in raw:
        raise TrustListError(f"{where}: holds a private key; a trust list must carry public keys only")
    if raw.get("kty") != "EC" or raw.get("crv") != "P-256":
        raise TrustListError(f"{where}: only EC P-256 (ES256) keys are accepted")
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

    if issuer is not None:
        # A pinned issuer's keys are its published JWKS: local members inside them speak for nobody.
        return TrustedKey(kid=kid, key=key, issuer=issuer, pinned_issuer=True)
    expiry = text("not_after")
    try:
        not_after = parse_instant(expiry) if expiry is not None else None
    except ValueError as exc:
        raise TrustListError(f"{where}: `not_after` {exc}") from None
    return TrustedKey(
        kid=kid,
        key=key,
        facility_code=text("facility_code"),
        facility_name=text("facility_name"),
        issuer=text("iss"),
        not_after=not_after,
    )
