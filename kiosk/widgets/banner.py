"""The banner across the top of a screen: offline and cached data, break-glass access, tampered documents."""

from __future__ import annotations

from rich.text import Text

from kiosk.widgets.words import Words


class StatusBanner(Words):
    """Zero or more warning lines the clerk must not miss; hidden when there are none."""

    DEFAULT_CSS = """
    StatusBanner { height: auto; padding: 0 1; display: none; background: $warning; color: black; }
    StatusBanner.-shown { display: block; }
    StatusBanner.-danger { background: $error; color: white; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._lines: list[str] = []

    def set_lines(self, lines: list[str], *, danger: bool = False) -> None:
        self._lines = list(lines)
        self.set_class(bool(lines), "-shown")
        self.set_class(danger, "-danger")
        self.update(Text("\n".join(f"⚠ {line}" for line in lines), style="bold"))

    @property
    def lines(self) -> list[str]:
        return list(self._lines)
