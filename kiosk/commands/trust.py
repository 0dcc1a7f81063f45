"""`kiosk trust list | add | remove | revoke`: manage the pinned trust list named by the settings.

The list is the file of `KIOSK_TRUST_LIST` (or `--trust-list`), created (0644, parent folders made) by the first
`add`. Its forms are in `lookup.trust.trust_file`:

- `add --issuer URL --jwks FILE [--name N] [--expires DATE]` pins a card issuer from its published JWKS, as is
  (a second `add` of the same issuer replaces its keys: a rotation);
- `add --directory FILE [--only URL]` imports the issuers of a SMART Health Card directory snapshot;
- `add --facility-code C --facility-name N --jwk FILE [--expires DATE]` pins a facility's document key;
- `remove --issuer URL | --kid KID` unpins; `revoke --kid KID --reason TEXT [--issuer URL]` refuses a key from now on,
  whatever it signed; `list` shows issuers, facilities and keys (kid, thumbprint, expiry, revocation).

A change is checked as the kiosk would read it (public EC P-256 keys only: a private key or another curve is
refused, naming the entry), written atomically (temporary file, then rename), and recorded in the list's audit file
(`<trust list>.audit.jsonl`, 0600, one JSON line per change naming the staff member from `--staff-id`,
`KIOSK_STAFF_ID` or else the OS user, and the kids, thumbprints and issuers changed; never key material). When the
change cannot be recorded it is undone; the audit file's lock keeps two changes at once from losing one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.output import CommandError, emit, say
from kiosk.settings import load_settings

if TYPE_CHECKING:
    from kiosk.services.trust import TrustAudit
    from lookup.trust.trust_file import PinnedIssuer, TrustDocument
    from lookup.trust.trust_list import TrustedKey, TrustList


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="one JSON object per line")
    common.add_argument("--trust-list", type=Path, default=None, help="the trust list (default: KIOSK_TRUST_LIST)")
    common.add_argument("--staff-id", default=None, help="who makes the change (default: KIOSK_STAFF_ID, else OS user)")
    p = sub.add_parser("trust", help="show and change the pinned trust list of issuers and facility keys")
    actions = p.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="issuers, facilities and keys (kid, thumbprint, expiry, revoked)")
    add = actions.add_parser("add", parents=[common], help="pin an issuer, a directory snapshot or a facility key")
    add.add_argument("--issuer", metavar="URL", help="the issuer's `iss` (with --jwks)")
    add.add_argument("--jwks", type=Path, metavar="FILE", help="the issuer's published JWKS, as is")
    add.add_argument("--name", help="the issuer's name, as shown")
    add.add_argument("--directory", type=Path, metavar="FILE", help="a directory snapshot (issuerInfo)")
    add.add_argument("--only", metavar="URL", help="with --directory: import this issuer only")
    add.add_argument("--facility-code", help="the facility's code (with --facility-name and --jwk)")
    add.add_argument("--facility-name", help="the facility's name")
    add.add_argument("--jwk", type=Path, metavar="FILE", help="the facility's public key (a JWK)")
    add.add_argument("--expires", metavar="DATE", help="not-after date of the keys pinned (YYYY-MM-DD or ISO time)")
    remove = actions.add_parser("remove", parents=[common], help="unpin an issuer or a key")
    remove.add_argument("--issuer", metavar="URL", help="unpin this issuer and its keys")
    remove.add_argument("--kid", help="unpin this key wherever it is pinned")
    revoke = actions.add_parser("revoke", parents=[common], help="refuse a key from now on, whatever it signed")
    revoke.add_argument("--kid", required=True, help="the key to revoke")
    revoke.add_argument("--reason", required=True, help="why (shown with every card or document it signed)")
    revoke.add_argument("--issuer", metavar="URL", help="revoke the key for this issuer only")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(trust_list=args.trust_list)
    path = settings.trust_list
    if path is None:
        raise CommandError("no trust list is named: set KIOSK_TRUST_LIST or pass --trust-list")
    if args.trust_command == "list":
        return _list(path, _load(path, missing_ok=False)[0], as_json=args.json)
    from kiosk.services.trust import TrustAudit

    with TrustAudit(path) as audit:
        document, existed = _load(path, missing_ok=args.trust_command == "add")
        edit = {"add": _add, "remove": _remove, "revoke": _revoke}[args.trust_command]
        edited, changes = edit(args, document)
        trust = _checked(edited, str(path))
        staff, staff_from = _staff(args.staff_id, settings.staff_id)
        rows = [_describe_change(trust, change) for change in changes]
        event: dict[str, Any] = {
            "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "event": f"trust-{args.trust_command}",
            "staff": staff,
            "staff_from": staff_from,
            "trust_list": str(path),
            "changes": rows,
        }
        if args.trust_command == "revoke":
            event["reason"] = args.reason
        _save(path, edited, document if existed else None, event, audit)
    if args.json:
        emit({"trust_list": str(path), "action": args.trust_command, "staff": staff, "changes": rows})
    else:
        for row in rows:
            whom = row.get("issuer") or row.get("facility_code") or "-"
            say(f"{row['change']}  {row['kid']}  {whom}")
        say(f"{path}: {len(rows)} change(s), recorded in {path.name}.audit.jsonl")
    return 0


Change = dict[str, str | None]


def _add(args: argparse.Namespace, document: TrustDocument) -> tuple[TrustDocument, list[Change]]:
    from lookup.trust.trust_file import pin_facility_key, pin_issuer

    expires = _instant_text(args.expires)
    forms = [args.issuer is not None or args.jwks is not None, args.directory is not None]
    forms.append(any(v is not None for v in (args.facility_code, args.facility_name, args.jwk)))
    if sum(forms) != 1:
        raise CommandError(
            "say what to add: --issuer URL --jwks FILE, or --directory FILE, "
            "or --facility-code C --facility-name N --jwk FILE"
        )
    changes: list[Change] = []
    if forms[0]:
        if args.issuer is None or args.jwks is None:
            raise CommandError("an issuer is added with both --issuer URL and --jwks FILE (its published JWKS)")
        iss = _issuer_url(args.issuer)
        jwks = _read(args.jwks)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise CommandError(f"{args.jwks}: not a JWKS (no `keys` list)")
        entry = _entry(iss, args.name, jwks["keys"], expires, str(args.jwks))
        entries = [entry]
    elif forms[1]:
        entries = _directory_entries(args.directory, args.only, expires)
    else:
        if not (args.facility_code and args.facility_name and args.jwk):
            raise CommandError("a facility key is added with --facility-code C, --facility-name N and --jwk FILE")
        jwk = _single_jwk(args.jwk)
        jwk.update({"facility_code": args.facility_code, "facility_name": args.facility_name})
        if expires is not None:
            jwk["not_after"] = expires
        _checked_keys([jwk], str(args.jwk))
        changes.append({"change": "added", "kid": str(jwk.get("kid")), "facility_code": args.facility_code})
        return pin_facility_key(document, jwk), changes
    for entry in entries:
        document, added, dropped = pin_issuer(document, entry)
        iss = entry.issuer.iss
        kept = [str(k.get("kid")) for k in entry.keys if str(k.get("kid")) not in added]
        changes += [{"change": "added", "kid": kid, "issuer": iss} for kid in added]
        changes += [{"change": "kept", "kid": kid, "issuer": iss} for kid in kept]
        changes += [{"change": "removed", "kid": kid, "issuer": iss} for kid in dropped]
    return document, changes


def _remove(args: argparse.Namespace, document: TrustDocument) -> tuple[TrustDocument, list[Change]]:
    from lookup.trust.trust_file import TrustListError, unpin_issuer, unpin_kid

    if (args.issuer is None) == (args.kid is None):
        raise CommandError("say what to remove: --issuer URL or --kid KID")
    try:
        if args.issuer is not None:
            edited, entry = unpin_issuer(document, args.issuer)
            kids = [str(k.get("kid")) for k in entry.keys]
            return edited, [{"change": "removed", "kid": kid, "issuer": entry.issuer.iss} for kid in kids]
        edited, whom = unpin_kid(document, args.kid)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None
    return edited, [{"change": "removed", "kid": args.kid, "issuer": iss} for iss in whom]


def _revoke(args: argparse.Namespace, document: TrustDocument) -> tuple[TrustDocument, list[Change]]:
    from pydantic import ValidationError

    from lookup.trust.trust_file import Revocation, TrustListError, describe, revoke_kid

    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    iss = _issuer_url(args.issuer) if args.issuer is not None else None
    try:
        revocation = Revocation(kid=args.kid, iss=iss, reason=args.reason, when=when)
    except ValidationError as exc:
        raise CommandError(f"cannot revoke: {describe(exc)}") from None
    try:
        edited = revoke_kid(document, revocation)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None
    return edited, [{"change": "revoked", "kid": args.kid, "issuer": iss}]


def _list(path: Path, document: TrustDocument, *, as_json: bool) -> int:
    trust = _checked(document, str(path))
    keys = [_key_row(key) for key in trust]
    issuers = [
        {"iss": e.issuer.iss, "name": e.issuer.name, "not_after": e.not_after, "keys": len(e.keys)}
        for e in document.issuer_info
    ]
    facilities = sorted({(k.facility_code, k.facility_name) for k in trust if k.facility_code is not None})
    if as_json:
        emit(
            {
                "trust_list": str(path),
                "issuers": issuers,
                "facilities": [{"code": code, "name": name} for code, name in facilities],
                "keys": keys,
            }
        )
        return 0
    say(f"{path}: {len(issuers)} issuer(s) pinned, {len(facilities)} facility(ies), {len(keys)} key(s)")
    for issuer in issuers:
        say(f"issuer  {issuer['iss']}  {issuer['name'] or ''}  keys {issuer['keys']}")
    for code, name in facilities:
        say(f"facility  {code}  {name or ''}")
    for row in keys:
        state = f"revoked {row['revoked']['when']}: {row['revoked']['reason']}" if row["revoked"] else "trusted"
        whom = row["issuer"] or row["facility_code"] or "-"
        say(f"key  {row['kid']}  thumbprint {row['thumbprint']}  {whom}  expires {row['not_after'] or '-'}  {state}")
    return 0


def _key_row(key: TrustedKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "thumbprint": key.thumbprint,
        "issuer": key.issuer,
        "pinned_issuer": key.pinned_issuer,
        "facility_code": key.facility_code,
        "facility_name": key.facility_name,
        "not_after": key.not_after.isoformat().replace("+00:00", "Z") if key.not_after else None,
        "revoked": key.revoked.model_dump(exclude_none=True) if key.revoked else None,
    }


def _describe_change(trust: TrustList, change: Change) -> Change:
    """The change as the audit and the output show it: the key's thumbprint beside its kid, nothing more."""
    kid = change.get("kid") or ""
    known = trust.keys_for(kid)
    row: Change = {name: value for name, value in change.items() if value is not None}
    if known:
        row["thumbprint"] = known[0].thumbprint
    return row


def _load(path: Path, *, missing_ok: bool) -> tuple[TrustDocument, bool]:
    from lookup.trust.trust_file import TrustDocument, TrustListError, document_of
    from lookup.trust.trust_list import read_jwks

    if missing_ok and not path.exists():
        return TrustDocument(), False
    try:
        document = document_of(read_jwks(path), str(path))
    except TrustListError as exc:
        raise CommandError(str(exc)) from None
    _checked(document, str(path))
    return document, True


def _checked(document: TrustDocument, source: str) -> TrustList:
    """The document as the kiosk would read it; any key it could not trust is a `CommandError` naming the entry."""
    from lookup.trust.trust_file import TrustListError
    from lookup.trust.trust_list import TrustList

    try:
        return TrustList.from_document(document, source)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None


def _checked_keys(keys: list[dict[str, Any]], source: str) -> None:
    from lookup.trust.trust_file import TrustDocument

    _checked(TrustDocument(keys=keys), source)


def _save(
    path: Path, edited: TrustDocument, before: TrustDocument | None, event: dict[str, Any], audit: TrustAudit
) -> None:
    from lookup.trust.trust_file import TrustListError, write_trust_file

    try:
        write_trust_file(path, edited)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None
    try:
        audit.record(event)
    except CommandError as exc:
        # An unrecorded change must not stay: put the list back as it was.
        try:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                write_trust_file(path, before)
        except (OSError, TrustListError):
            raise CommandError(f"{exc}; the change could not be undone either, check {path}") from None
        raise CommandError(f"{exc}; the change was undone") from None


def _entry(iss: str, name: str | None, keys: list[Any], expires: str | None, source: str) -> PinnedIssuer:
    """An issuer entry of its published keys as is, checked as the kiosk would read it."""
    from pydantic import ValidationError

    from lookup.trust.trust_file import IssuerName, PinnedIssuer, describe

    try:
        entry = PinnedIssuer(issuer=IssuerName(iss=iss, name=name), keys=keys, not_after=expires)
    except ValidationError as exc:
        raise CommandError(f"{source}: {describe(exc)}") from None
    _checked_entries([entry], source)
    return entry


def _checked_entries(entries: list[PinnedIssuer], source: str) -> None:
    from lookup.trust.trust_file import TrustDocument

    _checked(TrustDocument(issuerInfo=entries), source)


def _directory_entries(path: Path, only: str | None, expires: str | None) -> list[PinnedIssuer]:
    from lookup.trust.trust_file import TrustListError, document_of, same_issuer

    data = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("issuerInfo"), list):
        raise CommandError(f"{path}: not a directory snapshot (no `issuerInfo` list)")
    try:
        snapshot = document_of({"issuerInfo": data["issuerInfo"]}, str(path))
    except TrustListError as exc:
        raise CommandError(str(exc)) from None
    entries = snapshot.issuer_info
    if only is not None:
        entries = [e for e in entries if same_issuer(e.issuer.iss) == same_issuer(only)]
        if not entries:
            raise CommandError(f"{path}: the directory has no issuer {only}")
    if not entries:
        raise CommandError(f"{path}: the directory lists no issuer")
    for entry in entries:
        _issuer_url(entry.issuer.iss, source=str(path))
    if expires is not None:
        entries = [e.model_copy(update={"not_after": expires}) for e in entries]
    _checked_entries(entries, str(path))
    return entries


def _single_jwk(path: Path) -> dict[str, Any]:
    data = _read(path)
    if isinstance(data, dict) and isinstance(data.get("keys"), list):
        if len(data["keys"]) != 1 or not isinstance(data["keys"][0], dict):
            raise CommandError(f"{path}: a facility key is one JWK (or a JWKS holding exactly one key)")
        data = data["keys"][0]
    if not isinstance(data, dict):
        raise CommandError(f"{path}: not a JWK (a JSON object)")
    local = ("facility_code", "facility_name", "iss", "not_after")
    return {name: value for name, value in data.items() if name not in local}


def _read(path: Path) -> Any:
    from lookup.trust.trust_file import TrustListError, read_json

    try:
        return read_json(path)
    except TrustListError as exc:
        raise CommandError(str(exc)) from None


def _issuer_url(url: str, *, source: str | None = None) -> str:
    """An issuer's `iss` as SMART Health Cards spell it: an https URL without a trailing slash."""
    from urllib.parse import urlsplit

    iss = url.strip().rstrip("/")
    parts = urlsplit(iss)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        where = f"{source}: " if source else ""
        raise CommandError(f"{where}the issuer {url!r} is not an https URL (SMART Health Card issuers are https)")
    return iss


def _instant_text(text: str | None) -> str | None:
    from lookup.trust.trust_file import parse_instant

    if text is None:
        return None
    try:
        parse_instant(text)
    except ValueError as exc:
        raise CommandError(f"--expires: {exc}") from None
    return text.strip()


def _staff(option: str | None, configured: str | None) -> tuple[str, str]:
    """Who makes the change and how the kiosk knows: the option, the settings (`KIOSK_STAFF_ID`), or the OS user."""
    if option:
        return option, "option"
    if configured:
        return configured, "settings"
    try:
        return getpass.getuser(), "os-user"
    except (OSError, KeyError):
        return "unknown", "unknown"
