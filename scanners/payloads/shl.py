"""SMART Health Link payloads as scans: `shlink:/<base64url JSON>`, bare or after a viewer URL and `#`.

The link is read by `lookup.health_links.link`, the one reader of links; following it to the patient's documents
belongs to the lookup service. A scan of a link carries no identifiers yet (they come after retrieval).
"""

from __future__ import annotations

from lookup.domain.model import ScanKind, ScanReading
from lookup.health_links.link import ShlError, parse_link
from scanners.payloads.common import PayloadError


def looks_like_shl(text: str) -> bool:
    return "shlink:/" in text


def parse_shl(text: str) -> ScanReading:
    """Read a SMART Health Link as a scan; raises `PayloadError` naming what is wrong with it."""
    try:
        link = parse_link(text)
    except ShlError as exc:
        raise PayloadError(str(exc)) from None
    warnings: list[str] = []
    if link.expired():
        warnings.append("the SMART Health Link has expired")
    if link.needs_passcode:
        warnings.append("the SMART Health Link needs a passcode from the patient")
    return ScanReading(kind=ScanKind.SHL, warnings=tuple(warnings))
