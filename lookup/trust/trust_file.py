"""The trust-list file: its forms, read and written as pydantic models, and the edits `kiosk trust` makes to it.

One JSON object holding any of:

- `keys`: a JWKS's keys (the original form; a plain JWKS is a trust list). Beyond the standard JWK members a key may
  carry `facility_code` and `facility_name` (a facility's document key), `iss` (a SMART Health Card issuer's key)
  and `not_after` (local expiry, below);
- `issuerInfo`: card issuers pinned by URL with their published JWKS as is, in the shape of the SMART Health Card
  community directory snapshot (VCI `vci_snapshot.json`): `{"issuer": {"iss", "name", "website"?, "canonical_iss"?},
  "keys": [JWK...]}`, plus local `not_after` (every key of the issuer) and `key_not_after` (`{kid: date}`). The keys
  of an entry are trusted for that entry's `iss` only, never for another issuer nor for facility documents;
- `revoked`: `{"kid", "iss"?, "reason", "when"}`: that key (for that issuer only, when `iss` is given) signs nothing
  the kiosk accepts any more, whenever it was signed, because a revoked key may be in someone else's hands.

A JWK has no standard expiry, so `not_after` is local metadata: a date (`2027-01-31`, usable through that day, UTC)
or an instant (`2027-01-31T12:00:00Z`). A card whose `nbf`, or a document whose `signature.when`, is after it is not
accepted; what was signed before stays valid. Both times are the signer's own claim, so expiry retires a key in an
orderly way, and revocation is what stops a leaked one.

Members this kiosk does not know (a snapshot's `directory`, `time`, an issuer's `crls`) are kept as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

TRUST_FILE_MODE = 0o644
"""Everyone may read a trust list (it holds public keys only); only its owner may change it."""
_MAX_TRUST_FILE = 8 * 1024 * 1024


class TrustListError(Exception):
    """The trust list cannot be used; the message names the file and what is wrong."""


def parse_instant(text: str) -> dt.datetime:
    """A `not_after` or `when` as an aware UTC instant: a date means the end of that day (UTC); naive times are UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC) - dt.timedelta(microseconds=1)
        instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant.astimezone(dt.UTC)


def _instant_text(text: str) -> str:
    parse_instant(text)
    return text.strip()


Instant = Annotated[str, AfterValidator(_instant_text)]
"""A date or ISO 8601 time, kept as written."""
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class IssuerName(BaseModel):
    """Who an `issuerInfo` entry is: the `iss` its cards carry, and names to show."""

    model_config = ConfigDict(extra="allow")

    iss: Text
    name: str | None = None
    website: str | None = None
    canonical_iss: str | None = None


class PinnedIssuer(BaseModel):
    """One card issuer pinned by URL: its published keys as is, and when they stop being trusted (local)."""

    model_config = ConfigDict(extra="allow")

    issuer: IssuerName
    keys: list[dict[str, Any]]
    not_after: Instant | None = None
    key_not_after: dict[str, Instant] = Field(default_factory=dict)


class Revocation(BaseModel):
    """A key that signs nothing acceptable any more: why, and since when (as recorded)."""

    model_config = ConfigDict(extra="forbid")

    kid: Text
    iss: str | None = None
    reason: Text
    when: Instant


class TrustDocument(BaseModel):
    """A whole trust-list file."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    keys: list[dict[str, Any]] = Field(default_factory=list)
    issuer_info: list[PinnedIssuer] = Field(default_factory=list, alias="issuerInfo")
    revoked: list[Revocation] = Field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        """The JSON form, in the file's own member names; empty lists of the newer forms are left out."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name in ("issuerInfo", "revoked"):
            if not data.get(name):
                data.pop(name, None)
        return data

    def issuer(self, iss: str) -> PinnedIssuer | None:
        wanted = same_issuer(iss)
        return next((entry for entry in self.issuer_info if same_issuer(entry.issuer.iss) == wanted), None)


def same_issuer(iss: str) -> str:
    """The form two issuer URLs are compared in (a trailing slash does not make another issuer)."""
    return iss.strip().rstrip("/")


def describe(exc: ValidationError) -> str:
    """Where the file is wrong and why, without the values (they may be key material)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        parts.append(f"{where or 'the file'}: {error['msg']}")
    return "; ".join(parts)


def check_shape(data: object, source: str) -> dict[str, Any]:
    """`data` as a trust-list object, or why not (JSON shape only: cheap enough for before the first screen)."""
    if not isinstance(data, dict) or not (
        isinstance(data.get("keys"), list) or isinstance(data.get("issuerInfo"), list)
    ):
        raise TrustListError(f"{source}: the trust list is not a JWKS (no `keys` list) nor a directory (`issuerInfo`)")
    return data


def document_of(data: dict[str, Any], source: str) -> TrustDocument:
    """The file's content as the model; a `TrustListError` names the member that is wrong."""
    check_shape(data, source)
    try:
        return TrustDocument.model_validate(data)
    except ValidationError as exc:
        raise TrustListError(f"{source}: {describe(exc)}") from None


def read_json(path: Path) -> Any:
    """The JSON in a trust-list (or JWKS, or directory) file; every fault a `TrustListError` naming the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_TRUST_FILE + 1)
    except FileNotFoundError:
        raise TrustListError(f"{path}: the file does not exist") from None
    except IsADirectoryError:
        raise TrustListError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise TrustListError(f"{path}: cannot read the file ({exc.strerror})") from None
    if len(raw) > _MAX_TRUST_FILE:
        raise TrustListError(f"{path}: the file is larger than {_MAX_TRUST_FILE // (1024 * 1024)} MiB")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise TrustListError(f"{path}: not valid JSON ({exc})") from None


def write_trust_file(path: Path, document: TrustDocument) -> None:
    """Replace `path` with `document` atomically (a temporary file in the same folder, flushed, then renamed), 0644,
    making missing parent folders; a reader sees the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        content = (json.dumps(document.dump(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.write(fd, content)
                # The umask must not decide who may change the list of keys that vouch for patients' records.
                os.fchmod(fd, TRUST_FILE_MODE)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise TrustListError(f"{path}: cannot write the trust list ({exc.strerror})") from None


class TrustEditError(TrustListError):
    """An edit that cannot be made (an unknown kid or issuer, a key revoked twice); the file is left as it is."""


def pin_issuer(document: TrustDocument, entry: PinnedIssuer) -> tuple[TrustDocument, list[str], list[str]]:
    """`document` with `entry` pinned (replacing an entry of the same `iss`: a rotation), the kids it adds and the
    kids the replaced entry had that the new one drops."""
    iss = same_issuer(entry.issuer.iss)
    before = document.issuer(iss)
    old_kids = [str(k.get("kid")) for k in before.keys] if before is not None else []
    new_kids = [str(k.get("kid")) for k in entry.keys]
    others = [e for e in document.issuer_info if same_issuer(e.issuer.iss) != iss]
    edited = document.model_copy(update={"issuer_info": [*others, entry]})
    return edited, [k for k in new_kids if k not in old_kids], [k for k in old_kids if k not in new_kids]


def pin_facility_key(document: TrustDocument, jwk: dict[str, Any]) -> TrustDocument:
    """`document` with a facility key in `keys` (replacing a top-level key of the same kid)."""
    others = [k for k in document.keys if k.get("kid") != jwk.get("kid")]
    return document.model_copy(update={"keys": [*others, jwk]})


def unpin_issuer(document: TrustDocument, iss: str) -> tuple[TrustDocument, PinnedIssuer]:
    entry = document.issuer(iss)
    if entry is None:
        raise TrustEditError(f"no issuer {iss} is pinned in the trust list")
    remaining = [e for e in document.issuer_info if e is not entry]
    return document.model_copy(update={"issuer_info": remaining}), entry


def unpin_kid(document: TrustDocument, kid: str) -> tuple[TrustDocument, list[str | None]]:
    """`document` without any key `kid` (top-level or of a pinned issuer), and whom each removed key spoke for
    (the issuer's `iss`, or None for a top-level key). Revocations of the kid stay, so it cannot come back unnoticed."""
    removed: list[str | None] = [None for k in document.keys if k.get("kid") == kid]
    entries = []
    for entry in document.issuer_info:
        kept = [k for k in entry.keys if k.get("kid") != kid]
        if len(kept) != len(entry.keys):
            removed.append(entry.issuer.iss)
            expiry = {name: when for name, when in entry.key_not_after.items() if name != kid}
            entry = entry.model_copy(update={"keys": kept, "key_not_after": expiry})
        entries.append(entry)
    if not removed:
        raise TrustEditError(f"no key {kid} is in the trust list")
    keys = [k for k in document.keys if k.get("kid") != kid]
    return document.model_copy(update={"keys": keys, "issuer_info": entries}), removed


def revoke_kid(document: TrustDocument, revocation: Revocation) -> TrustDocument:
    """`document` with `revocation` recorded; the kid must be pinned (a typo must not pass for a revocation)."""
    pinned = {k.get("kid") for k in document.keys} | {k.get("kid") for e in document.issuer_info for k in e.keys}
    if revocation.kid not in pinned:
        raise TrustEditError(f"no key {revocation.kid} is in the trust list")
    for earlier in document.revoked:
        if earlier.kid == revocation.kid and (earlier.iss is None or earlier.iss == revocation.iss):
            raise TrustEditError(f"the key {revocation.kid} was already revoked on {earlier.when}: {earlier.reason}")
    return document.model_copy(update={"revoked": [*document.revoked, revocation]})
