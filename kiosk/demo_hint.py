"""The demo's on-screen hint: sample codes a visitor can try without a card."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class DemoHint(BaseModel):
    """Sample inputs for the demo population; synthetic people only."""

    model_config = ConfigDict(frozen=True)

    cccd_text: str
    """A CCCD QR payload of a synthetic patient, to paste or type as a scan."""
    qr_image: Path | None = None
    """A PNG of the same QR code, to show to a camera or decode with `kiosk scan`."""
    search_name: str = ""
    """A name and birth year to try in the manual search form."""
    consent_text: str | None = None
    """A scan of a synthetic patient without consent, to try break-glass."""
    staff_id: str | None = None
    staff_pin: str | None = None
    """A demo staff member of the sandbox and their PIN, shown in the sign-in dialog (demo accounts only)."""
    admin_pin: str | None = None
    """The demo's admin PIN (its hash is the demo's `admin_pin_hash`), shown in the dialog that asks for it."""
