"""What `kiosk serve` will do, decided from the settings before anything listens; unsafe choices are refused.

Off loopback the app would be reachable from the hospital network, so it needs TLS and a key set in the settings.
A generated key is not enough there: it is printed on this machine's terminal at every start, and carrying it to
another machine means copying a fresh secret around by hand each time (into chat, paper, shell history). A key set
in the settings file (or `KIOSK_SERVE_SECRET`) is provisioned once, deliberately, with a length floor.
"""

from __future__ import annotations

import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from kiosk.output import CommandError
from kiosk.settings import Settings
from lookup import is_loopback_host


@dataclass(frozen=True, slots=True)
class ServePlan:
    """Where `kiosk serve` listens, the origin browsers see it at, the key a session needs, and the session cap."""

    host: str
    port: int
    origin: str
    """scheme://host[:port] exactly as a browser sends it in an `Origin` header (default ports left out)."""
    secret: str
    secret_from_settings: bool
    max_sessions: int
    tls: ssl.SSLContext | None

    @property
    def secure(self) -> bool:
        return self.origin.startswith("https://")

    @property
    def open_url(self) -> str:
        """The address to open once on the kiosk; the key in it is swapped for a cookie at once."""
        key = "<serve_secret>" if self.secret_from_settings else self.secret
        return f"{self.origin}/?key={key}"


def plan_serving(settings: Settings, host: str, port: int) -> ServePlan:
    tls = _tls_context(settings)
    if not is_loopback_host(host):
        missing = [
            what
            for what, present in (("TLS (serve_tls_cert, serve_tls_key)", tls), ("serve_secret", settings.serve_secret))
            if present is None
        ]
        if missing:
            raise CommandError(
                f"refusing to serve on {host}: an address other than loopback needs {' and '.join(missing)} in the "
                "settings; use the default --host 127.0.0.1 for a browser on this machine"
            )
    if settings.serve_secret is not None:
        secret, from_settings = settings.serve_secret.get_secret_value(), True
    else:
        secret, from_settings = secrets.token_urlsafe(32), False
    origin = _origin(settings, host, port, secure=tls is not None)
    if tls is not None and not origin.startswith("https://"):
        raise CommandError(f"serve_public_url is {origin}, but with TLS set browsers see an https:// address")
    return ServePlan(
        host=host,
        port=port,
        origin=origin,
        secret=secret,
        secret_from_settings=from_settings,
        max_sessions=settings.serve_max_sessions,
        tls=tls,
    )


def _origin(settings: Settings, host: str, port: int, *, secure: bool) -> str:
    if settings.serve_public_url is not None:
        url = settings.serve_public_url
        scheme, name, port = url.scheme, url.host or host, url.port or port
    else:
        scheme = "https" if secure else "http"
        # A wildcard bind has no name a browser could use; the machine's own name is the best guess, and a wrong
        # guess only refuses sessions (the Origin will not match), it never lets one through.
        name = socket.getfqdn() if host in ("", "0.0.0.0", "::") else host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{name.lower()}" + ("" if port == default else f":{port}")


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    cert, key = settings.serve_tls_cert, settings.serve_tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CommandError("serve_tls_cert and serve_tls_key must be set together")
    for setting, path in (("serve_tls_cert", cert), ("serve_tls_key", key)):
        if not Path(path).is_file():
            raise CommandError(f"{setting}: {path} is not a file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # An empty password: a key that needs one fails here rather than prompting on the terminal.
        context.load_cert_chain(Path(cert), Path(key), password=lambda: b"")
    except ssl.SSLError:
        raise CommandError(
            f"cannot use {cert} and {key} for TLS: they must be a PEM certificate and its private key, unencrypted"
        ) from None
    except OSError as exc:
        raise CommandError(f"cannot read the TLS certificate or key: {exc.strerror or exc}") from None
    return context
