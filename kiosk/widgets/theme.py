"""The kiosk's colours."""

from __future__ import annotations

from textual.theme import Theme

HIGH_CONTRAST = Theme(
    name="kiosk-high-contrast",
    primary="#FFD700",
    secondary="#00FFFF",
    accent="#00FFFF",
    warning="#FFB000",
    error="#FF4040",
    success="#30FF30",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#202020",
    dark=True,
)
"""Black, white and saturated signal colours: readable under ER lights and by tired eyes."""
