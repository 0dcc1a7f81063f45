"""The QR code of a text, as rows of dark and light modules with its quiet zone."""

from __future__ import annotations

from typing import Final

import segno

QUIET_ZONE: Final = 4
"""Modules of light margin on each side, as ISO/IEC 18004 asks: scanners find the code by it."""


def qr_rows(text: str) -> tuple[tuple[bool, ...], ...]:
    """The modules of `text`'s QR code, quiet zone included; error correction as high as the smallest version that
    holds the text allows (a wristband gets wet, creased and scratched)."""
    code = segno.make_qr(text, error="q", boost_error=True)
    return tuple(tuple(bool(m) for m in row) for row in code.matrix_iter(scale=1, border=QUIET_ZONE))
