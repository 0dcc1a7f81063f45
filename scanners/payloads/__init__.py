"""Payload parsers: the text of a code to identifiers, demographic hints and a signature check.

Each parser returns the domain's `ScanReading` or raises `PayloadError` (whose message never repeats the payload);
`interpret()` picks the parser, adds where the code came from to make the `ScanResult`, and never raises.
"""

from scanners.payloads.common import PayloadError
from scanners.payloads.dispatch import interpret, parse_payload
from scanners.payloads.shc import ShcChunks

__all__ = ["PayloadError", "ShcChunks", "interpret", "parse_payload"]
