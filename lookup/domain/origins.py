"""The one rule for where the kiosk may send what: origins (scheme, host, port), loopback, and plain http.

Credentials, tokens, passcodes and patient records travel only over https, except to this machine's own loopback
(the sandbox and the tests); and what was meant for one server goes only to that server's origin. The FHIR client
and SMART Health Link retrieval apply these same functions, and `kiosk doctor` and the kiosk's start-up ask them too,
so a URL cannot pass one check and fail another.
"""

from __future__ import annotations

import ipaddress
from typing import Final, NamedTuple
from urllib.parse import urlsplit

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

PLAIN_HTTP_REFUSED: Final = (
    "the server is reached over plain http on another machine: records and credentials would travel unencrypted; "
    "use https, or set KIOSK_INSECURE_HTTP=1 to allow it knowingly"
)
PLAIN_HTTP_ALLOWED: Final = "plain http allowed by KIOSK_INSECURE_HTTP: records and credentials travel unencrypted"


class Origin(NamedTuple):
    """Scheme, host and port of a URL, as browsers compare them: lower case, the default port written out."""

    scheme: str
    host: str
    port: int


def origin_of(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL; None for anything else (a relative path, another scheme, junk)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return Origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])


def same_origin(url: str, other: str) -> bool:
    """Whether two absolute URLs share scheme, host and port (an unreadable URL shares nothing)."""
    mine = origin_of(url)
    return mine is not None and mine == origin_of(other)


def is_loopback_host(host: str) -> bool:
    """`localhost` or an address in 127.0.0.0/8 or ::1: traffic that never leaves the machine. (Names under
    `.localhost` are not taken on trust: not every resolver keeps them on the machine.)"""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    found = origin_of(url)
    return found is not None and is_loopback_host(found.host)


def plain_http_off_machine(url: str) -> bool:
    """Whether the URL is `http://` to a host other than loopback: readable by anyone on the way."""
    found = origin_of(url)
    return found is not None and found.scheme == "http" and not is_loopback_host(found.host)


def private_enough(url: str) -> bool:
    """https anywhere, or plain http on loopback only; anything unreadable as an http(s) URL is not."""
    found = origin_of(url)
    return found is not None and (found.scheme == "https" or is_loopback_host(found.host))
