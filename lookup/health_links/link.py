"""The SMART Health Link itself: `shlink:/<base64url JSON>`, bare or after a viewer URL and `#`.

This is the one reader of a link's payload, for the scanners (a scanned link becomes a scan of kind `shl`) and for
retrieval (which follows it). It only reads: fetching and decrypting what a link shares belongs to `retrieval`.
The key is a secret: the model keeps it as a `SecretStr`, so it is never printed, and no error message repeats it
or any other part of the payload.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

_LINK = re.compile(r"(?:^|#)shlink:/([A-Za-z0-9_-]+={0,2})\s*$")
_FLAGS = re.compile(r"[A-Z]*")
_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
_HTTP = re.compile(r"https?://")
MAX_LABEL = 80
"""The specification's limit on a link's label, in characters."""

ShlErrorKind = Literal[
    "invalid-link",
    "expired",
    "passcode",
    "gone",
    "unreachable",
    "decrypt",
    "content",
    "insecure",
    "redirected",
    "too-large",
]


class ShlError(Exception):
    """A link that could not be read or followed to its content; `kind` says why in one word.

    The message is for the clerk: it never holds the link's key, passcode or any other part of its payload.
    """

    def __init__(self, kind: ShlErrorKind, message: str) -> None:
        self.kind: ShlErrorKind = kind
        super().__init__(message)


class ShlLink(BaseModel):
    """A decoded `shlink:/` payload."""

    # Validation errors must not carry the url or label they refuse: the url itself grants access to the files.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str = Field(pattern=r"^https?://")
    key: SecretStr
    """43 characters of base64url: the AES-256 key of the shared files."""
    flag: str = Field(default="", pattern=r"^[A-Z]*$")
    """L (long-term), P (passcode needed), U (direct file)."""
    exp: dt.datetime | None = None
    """When the link stops working (timezone-aware), if it says."""
    label: str | None = Field(default=None, max_length=MAX_LABEL)
    version: int = 1

    @property
    def direct(self) -> bool:
        """`U`: the url is the single encrypted file itself, fetched with GET."""
        return "U" in self.flag

    @property
    def needs_passcode(self) -> bool:
        return "P" in self.flag

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.exp is not None and self.exp <= (now or dt.datetime.now(dt.UTC))


def b64url_decode(text: str) -> bytes:
    """Base64url with or without its `=` padding, as links and their keys are written."""
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid(message: str) -> ShlError:
    return ShlError("invalid-link", message)


def _expiry(exp: object) -> dt.datetime | None:
    if exp is None:
        return None
    if not isinstance(exp, int | float) or isinstance(exp, bool) or not 0 <= exp < 2**40:
        raise _invalid("the SMART Health Link expiry is not a timestamp")
    try:
        return dt.datetime.fromtimestamp(exp, dt.UTC)
    except (ValueError, OverflowError, OSError):
        # Beyond the year 9999: no real link expires then.
        raise _invalid("the SMART Health Link expiry is not a timestamp") from None


def parse_link(text: str) -> ShlLink:
    """Read a SMART Health Link; raises `ShlError` (kind `invalid-link`) naming what is wrong."""
    match = _LINK.search(text.strip())
    if match is None:
        raise _invalid("not a SMART Health Link (shlink:/ followed by base64url)")
    try:
        raw: Any = json.loads(b64url_decode(match.group(1)))
    except (binascii.Error, ValueError):
        raise _invalid("the SMART Health Link payload is not base64url JSON") from None
    if not isinstance(raw, dict):
        raise _invalid("the SMART Health Link payload is not a JSON object")
    url, key, flag = raw.get("url"), raw.get("key"), raw.get("flag", "")
    if not isinstance(url, str) or not _HTTP.match(url):
        raise _invalid("the SMART Health Link has no http(s) url")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _invalid("the SMART Health Link key is not 43 characters of base64url")
    if not isinstance(flag, str) or not _FLAGS.fullmatch(flag):
        raise _invalid("the SMART Health Link flag is not a string of capital letters")
    expires = _expiry(raw.get("exp"))
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
        raise _invalid("the SMART Health Link label is not a short string")
    version = raw.get("v", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise _invalid("the SMART Health Link version is not a number")
    try:
        return ShlLink(url=url, key=SecretStr(key), flag=flag, exp=expires, label=label, version=version)
    except ValidationError:
        # JSON may carry lone surrogates (`\ud800`), which are no text.
        raise _invalid("the SMART Health Link's url or label is not valid text") from None
