"""SMART Health Link payloads: `shlink:/<base64url JSON>`, bare or after a viewer URL and `#`.

Only the payload is read here; fetching the manifest and decrypting the files belongs to the lookup service. The
key is a secret: it is kept in the model but never printed by `__repr__` or put in a message.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from lookup.domain.model import ScanKind
from scanners.payloads.common import Payload, PayloadError

_LINK = re.compile(r"(?:^|#)shlink:/([A-Za-z0-9_-]+={0,2})\s*$")
_FLAGS = re.compile(r"[A-Z]*")


class SmartHealthLink(BaseModel):
    """The decoded `shlink:/` payload."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://")
    key: SecretStr
    """43 characters of base64url: the AES-256 key of the shared files."""
    flag: str = ""
    """L (long-term), P (passcode needed), U (direct file)."""
    exp: dt.datetime | None = None
    label: str | None = Field(default=None, max_length=80)
    version: int = 1

    @property
    def needs_passcode(self) -> bool:
        return "P" in self.flag

    def expired(self, now: dt.datetime | None = None) -> bool:
        if self.exp is None:
            return False
        return self.exp <= (now or dt.datetime.now(dt.UTC))


def looks_like_shl(text: str) -> bool:
    return "shlink:/" in text


def read_shl(text: str) -> SmartHealthLink:
    """Decode a SMART Health Link; raises `PayloadError` naming what is wrong."""
    match = _LINK.search(text.strip())
    if match is None:
        raise PayloadError("not a SMART Health Link (shlink:/ followed by base64url)")
    encoded = match.group(1).rstrip("=")
    try:
        raw: Any = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        raise PayloadError("the SMART Health Link payload is not base64url JSON") from None
    if not isinstance(raw, dict):
        raise PayloadError("the SMART Health Link payload is not a JSON object")
    url, key, flag = raw.get("url"), raw.get("key"), raw.get("flag", "")
    if not isinstance(url, str) or not re.match(r"https?://", url):
        raise PayloadError("the SMART Health Link has no http(s) url")
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]{43}", key):
        raise PayloadError("the SMART Health Link key is not 43 characters of base64url")
    if not isinstance(flag, str) or not _FLAGS.fullmatch(flag):
        raise PayloadError("the SMART Health Link flag is not a string of capital letters")
    exp = raw.get("exp")
    expires: dt.datetime | None = None
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool) or not 0 <= exp < 2**40:
            raise PayloadError("the SMART Health Link expiry is not a timestamp")
        expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 80):
        raise PayloadError("the SMART Health Link label is not a short string")
    version = raw.get("v", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise PayloadError("the SMART Health Link version is not a number")
    return SmartHealthLink(url=url, key=SecretStr(key), flag=flag, exp=expires, label=label, version=version)


def parse_shl(text: str) -> Payload:
    """Read a SMART Health Link as a scan: no identifiers yet (they come after retrieval)."""
    link = read_shl(text)
    warnings: list[str] = []
    if link.expired():
        warnings.append("the SMART Health Link has expired")
    if link.needs_passcode:
        warnings.append("the SMART Health Link needs a passcode from the patient")
    return Payload(kind=ScanKind.SHL, warnings=tuple(warnings))
