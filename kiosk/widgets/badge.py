"""The signature badge shown beside every document and summary item."""

from __future__ import annotations

from rich.text import Text

from kiosk.i18n import Translator
from lookup import SignatureStatus

_LOOK: dict[SignatureStatus, tuple[str, str, str]] = {
    SignatureStatus.VALID: ("✔", "sig.valid", "bold green"),
    SignatureStatus.INVALID: ("✘", "sig.invalid", "bold white on red"),
    SignatureStatus.UNKNOWN_SIGNER: ("?", "sig.unknown-signer", "bold yellow"),
    # Signed, but with another facility's key than the one the document names: as untrustworthy as tampering.
    SignatureStatus.SIGNER_MISMATCH: ("✘", "sig.signer-mismatch", "bold white on red"),
    SignatureStatus.UNSIGNED: ("–", "sig.unsigned", "bright_black"),
}


def signature_badge(t: Translator, status: SignatureStatus) -> Text:
    """A short coloured label: valid, invalid (tampered), unknown signer, signer mismatch, or unsigned."""
    symbol, key, style = _LOOK[status]
    return Text(f" {symbol} {t(key)} ", style=style)
