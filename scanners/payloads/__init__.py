"""Payload parsers: the text of a code to identifiers, demographic hints and a signature check.

Each parser returns a `Payload` or raises `PayloadError` (whose message never repeats the payload);
`interpret()` picks the parser and never raises.
"""

from scanners.payloads.common import Payload, PayloadError
from scanners.payloads.dispatch import interpret, parse_payload
from scanners.payloads.shc import ShcChunks

__all__ = ["Payload", "PayloadError", "ShcChunks", "interpret", "parse_payload"]
