"""`kiosk doctor`: which decoders, camera, cache, server and trust list are usable, and why not."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any, Literal

from pydantic import BaseModel

from kiosk.output import CommandError, emit
from kiosk.services.trust import TrustFile
from kiosk.settings import Settings, load_settings


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


def check_cache(settings: Settings) -> Check:
    directory = settings.cache_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(name="cache", status="error", detail=f"cache dir {directory} is not writable: {exc.strerror}")
    key = settings.key_file
    if settings.cache_passphrase is not None:
        return Check(name="cache", status="ok", detail=f"{directory} writable; key from passphrase")
    if key.exists():
        mode = key.stat().st_mode & 0o777
        if mode & 0o077:
            return Check(name="cache", status="error", detail=f"key file {key} is readable by others ({mode:o})")
        return Check(name="cache", status="ok", detail=f"{directory} writable; key file {key}")
    return Check(name="cache", status="ok", detail=f"{directory} writable; key file created on first use")


def check_server(settings: Settings, timeout: float) -> Check:
    if settings.server is None:
        return Check(name="server", status="not-configured", detail="set KIOSK_SERVER to the FHIR base URL")
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


def run_checks(settings: Settings, timeout: float = 2.0) -> list[Check]:
    return [
        check_zxing(),
        check_pyzbar(),
        check_opencv(),
        check_camera(settings),
        check_cache(settings),
        check_server(settings, timeout),
        check_trust_list(settings),
    ]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    checks = run_checks(settings, args.timeout)
    for check in checks:
        if args.json:
            emit(check)
        else:
            print(f"{check.status:>14}  {check.name:<18} {check.detail}")
    broken = [c for c in checks if c.status == "error"]
    if not args.json and not os.environ.get("KIOSK_QUIET"):
        print("all usable" if not broken else f"{len(broken)} problem(s)")
    return 1 if broken else 0
