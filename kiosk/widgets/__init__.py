"""Reusable pieces of the kiosk's screens, grouped by feature."""
