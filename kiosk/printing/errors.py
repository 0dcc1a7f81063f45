"""The one error printing raises."""

from __future__ import annotations


class PrintError(Exception):
    """A print that cannot be made or sent: the message says what is missing or wrong and holds no patient data."""
