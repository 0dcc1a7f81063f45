"""`kiosk doctor`: which decoders, camera, cache, server and trust list are usable, and why not."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from kiosk.output import CommandError, emit, say
from kiosk.services.trust import TrustFile
from kiosk.settings import Settings, load_settings
from lookup import PLAIN_HTTP_ALLOWED, PLAIN_HTTP_REFUSED, plain_http_off_machine

_RED, _PLAIN = "\x1b[31m", "\x1b[0m"
"""A failure line is red on a terminal (the colour is ours; the line itself goes through `say`)."""


class Check(BaseModel):
    """One line of the doctor's report."""

    name: str
    status: Literal["ok", "missing", "error", "not-configured"]
    detail: str


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check decoders, camera, cache, server and trust list")
    p.add_argument("--json", action="store_true", help="one JSON object per check")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the server")


def check_zxing() -> Check:
    try:
        import zxingcpp

        return Check(
            name="decoder:zxing-cpp",
            status="ok",
            detail=f"zxing-cpp, formats {len(zxingcpp.BarcodeFormat.__members__)}",
        )
    except ImportError as exc:
        return Check(name="decoder:zxing-cpp", status="missing", detail=f"pip package zxing-cpp: {exc}")


def check_pyzbar() -> Check:
    try:
        from pyzbar import zbar_library

        zbar_library.load()
        return Check(name="decoder:pyzbar", status="ok", detail="pyzbar with the system libzbar")
    except ImportError as exc:
        return Check(name="decoder:pyzbar", status="missing", detail=f"install libzbar0 (apt) and pyzbar: {exc}")


def check_opencv() -> Check:
    try:
        import cv2

        return Check(name="images:opencv", status="ok", detail=f"OpenCV {cv2.__version__}")
    except ImportError as exc:
        return Check(name="images:opencv", status="missing", detail=f"pip package opencv-python-headless: {exc}")


def check_camera(settings: Settings) -> Check:
    if settings.camera is None:
        return Check(name="camera", status="not-configured", detail="set KIOSK_CAMERA to a camera index")
    try:
        import cv2

        capture = cv2.VideoCapture(settings.camera)
        try:
            if capture.isOpened():
                return Check(name="camera", status="ok", detail=f"camera {settings.camera} opens")
            return Check(name="camera", status="error", detail=f"camera {settings.camera} does not open")
        finally:
            capture.release()
    except ImportError as exc:
        return Check(name="camera", status="missing", detail=f"OpenCV is needed for a camera: {exc}")


def _loose(path: Path) -> str | None:
    """`path` and its mode when others may read or enter it, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return f"{path} ({mode:04o})" if mode & 0o077 else None


def check_cache(settings: Settings) -> Check:
    """The cache folder is writable, 0700, and its database files 0600."""
    from offline_cache import DB_NAME

    directory = settings.cache_dir
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(name="cache", status="error", detail=f"cache dir {directory} is not writable: {exc.strerror}")
    loose = [
        shown
        for path in (directory, *(directory / f"{DB_NAME}{suffix}" for suffix in ("", "-wal", "-shm")))
        if (shown := _loose(path))
    ]
    if loose:
        return Check(
            name="cache",
            status="error",
            detail=f"others may read {', '.join(loose)}; the kiosk makes the folder 0700 and its files 0600 when it "
            "next opens the cache (or chmod them now)",
        )
    return Check(name="cache", status="ok", detail=f"{directory} writable, 0700, its files 0600")


def check_cache_key(settings: Settings) -> Check:
    """Where the cache key is: red when it lies beside the database or others may read it."""
    from kiosk.services.cache import keyring_entry
    from offline_cache import LEGACY_KEY_NAME, key_inside, keyring_problem

    directory = settings.cache_dir
    beside = directory / LEGACY_KEY_NAME
    if beside.exists():
        return Check(
            name="cache-key",
            status="error",
            detail=f"the key file {beside} lies beside the database: whoever copies the folder reads the cache; the "
            "kiosk moves it out when it next opens the cache",
        )
    if settings.cache_passphrase is not None:
        return Check(name="cache-key", status="ok", detail="derived from the cache passphrase (Argon2id)")
    key = settings.key_file
    if key_inside(key, directory):
        return Check(
            name="cache-key",
            status="error",
            detail=f"cache_key_file {key} is inside the cache folder {directory}: refused; set it outside",
        )
    if _loose(key):
        return Check(name="cache-key", status="error", detail=f"key file {_loose(key)} is readable by others")
    problem = keyring_problem()
    wants_keyring = settings.cache_key_store == "keyring" or (
        settings.cache_key_store == "auto" and settings.cache_key_file is None
    )
    if wants_keyring and problem is None:
        import keyring

        backend = type(keyring.get_keyring()).__module__
        file_note = f"; key file {key} for a cache made under it" if key.exists() else ""
        detail = f"OS keyring ({backend}), {keyring_entry(settings).describe()}{file_note}"
        return Check(name="cache-key", status="ok", detail=detail)
    if settings.cache_key_store == "keyring":
        return Check(name="cache-key", status="error", detail=f"cache_key_store is 'keyring', but {problem}")
    made = "key file" if key.exists() else "key file (made on first use)"
    why = f" ({problem})" if problem and wants_keyring else ""
    return Check(name="cache-key", status="ok", detail=f"{made} {key}, outside the cache folder{why}")


def check_shared_cache(settings: Settings, timeout: float) -> Check:
    """The hospital's shared cache: reachable, migrated, under the hospital key, and not in clear over the LAN."""
    if settings.cache_url is None:
        return Check(name="shared-cache", status="not-configured", detail="cache_url unset: this kiosk's cache only")
    from kiosk.services.cache import hospital_key, shared_cache_place, shared_cache_unencrypted
    from offline_cache import CacheError
    from offline_cache.shared import SharedCache

    dsn = settings.cache_url.get_secret_value()
    place = shared_cache_place(dsn)
    try:
        key = hospital_key(settings)
    except CommandError as exc:
        return Check(name="shared-cache", status="error", detail=str(exc))
    try:
        with SharedCache.connect(dsn, master_key=key, ttl_seconds=3600, connect_timeout=timeout) as shared:
            stats = shared.stats()
    except CacheError as exc:
        return Check(name="shared-cache", status="error", detail=f"{place}: {exc}")
    waiting = stats.outbox.get("queued", 0) + stats.outbox.get("sent", 0)
    detail = f"{place}: {stats.records} records, {waiting} messages waiting, {stats.outbox.get('failed', 0)} given up"
    unencrypted = shared_cache_unencrypted(dsn)
    if unencrypted is not None:
        return Check(name="shared-cache", status="error", detail=f"{detail}; {unencrypted}")
    return Check(name="shared-cache", status="ok", detail=detail)


def check_audit_journal(settings: Settings) -> Check:
    """Audit events waiting in the local journal for the server (they go out at the next lookup or flush)."""
    directory = settings.audit_journal_dir
    waiting = len(list(directory.glob("*.json"))) if directory.is_dir() else 0
    if _loose(directory):
        return Check(name="audit-journal", status="error", detail=f"others may read {_loose(directory)}")
    if waiting:
        return Check(
            name="audit-journal",
            status="ok",
            detail=f"{waiting} audit event(s) in {directory} wait for the server; they are sent at the next lookup",
        )
    return Check(name="audit-journal", status="ok", detail=f"{directory}: nothing waiting")


def check_server(settings: Settings, timeout: float) -> Check:
    """The server answers with a CapabilityStatement, over https unless it is on this machine: plain http to another
    machine is a failure even when `KIOSK_INSECURE_HTTP` allows it, so nobody forgets it is on."""
    if settings.server is None:
        return Check(name="server", status="not-configured", detail="set KIOSK_SERVER to the FHIR base URL")
    if plain_http_off_machine(str(settings.server)):
        if not settings.insecure_http:
            return Check(name="server", status="error", detail=f"{settings.server}: {PLAIN_HTTP_REFUSED}")
        probe = _probe_server(settings, timeout)
        return Check(name="server", status="error", detail=f"{PLAIN_HTTP_ALLOWED} ({probe.detail})")
    return _probe_server(settings, timeout)


def _probe_server(settings: Settings, timeout: float) -> Check:
    import httpx

    url = str(settings.server).rstrip("/") + "/metadata"
    try:
        response = httpx.get(url, timeout=timeout, headers={"Accept": "application/fhir+json"})
    except httpx.HTTPError as exc:
        return Check(name="server", status="error", detail=f"{settings.server} unreachable: {type(exc).__name__}")
    if response.status_code != 200:
        return Check(name="server", status="error", detail=f"{url} answered HTTP {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError:
        return Check(name="server", status="error", detail=f"{url} did not answer JSON")
    if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
        return Check(name="server", status="error", detail=f"{url} answered no CapabilityStatement")
    return Check(name="server", status="ok", detail=f"{settings.server} FHIR {body.get('fhirVersion', '?')}")


def check_trust_list(settings: Settings) -> Check:
    path = settings.trust_list
    if path is None:
        return Check(
            name="trust-list",
            status="not-configured",
            detail="set KIOSK_TRUST_LIST: without it no signature can be shown as valid",
        )
    try:
        trust = TrustFile.read(path).trust_list()
    except CommandError as exc:
        return Check(name="trust-list", status="error", detail=str(exc))
    if not len(trust):
        return Check(name="trust-list", status="error", detail=f"{path}: the trust list holds no key")
    return Check(name="trust-list", status="ok", detail=f"{path}: {len(trust)} trusted keys")


def check_printing(settings: Settings) -> Check:
    from kiosk.printing import PrintError, PrintQueue
    from kiosk.printing.fonts import Fonts

    try:
        Fonts(settings.print_font_dir)
        if settings.printer is not None:
            PrintQueue.named(settings.printer)
    except PrintError as exc:
        return Check(name="printing", status="error", detail=str(exc))
    where = f"queue {settings.printer}" if settings.printer else "to files (no printer set)"
    return Check(name="printing", status="ok", detail=f"DejaVu fonts found; prints {where}")


def run_checks(settings: Settings, timeout: float = 2.0) -> list[Check]:
    return [
        check_zxing(),
        check_pyzbar(),
        check_opencv(),
        check_camera(settings),
        check_cache(settings),
        check_cache_key(settings),
        check_shared_cache(settings, timeout),
        check_audit_journal(settings),
        check_server(settings, timeout),
        check_trust_list(settings),
        check_printing(settings),
    ]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    checks = run_checks(settings, args.timeout)
    for check in checks:
        if args.json:
            emit(check)
        else:
            red = check.status == "error" and sys.stdout.isatty()
            if red:
                sys.stdout.write(_RED)
            say(f"{check.status:>14}  {check.name:<18} {check.detail}")
            if red:
                sys.stdout.write(_PLAIN)
    broken = [c for c in checks if c.status == "error"]
    if not args.json and not os.environ.get("KIOSK_QUIET"):
        print("all usable" if not broken else f"{len(broken)} problem(s)")
    return 1 if broken else 0
