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

SECONDARY_TEXT = "#C8C8C8"
"""Second lines such as a patient's other identifiers: quieter than the name, yet 12:1 on the black background
(ANSI bright black, about 5:1 there, was too faint under ER lights)."""
