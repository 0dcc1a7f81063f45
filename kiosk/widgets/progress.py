"""Progress of a running lookup: each named step with its state, in words the clerk can follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from kiosk.i18n import Translator
from kiosk.widgets.words import Words

if TYPE_CHECKING:
    from lookup import LookupStep

_MARK = {"started": ("⟳", "bold yellow"), "done": ("✔", "bold green"), "failed": ("✘", "bold red")}


class LookupProgress(Words):
    """A one-line list of lookup steps (`connect ✔ · identify ⟳ …`), hidden when no lookup runs."""

    DEFAULT_CSS = """
    LookupProgress { height: auto; padding: 0 1; display: none; }
    LookupProgress.-running { display: block; }
    """

    def __init__(self, t: Translator, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._t = t
        self._steps: dict[str, str] = {}

    def begin(self) -> None:
        self._steps.clear()
        self.add_class("-running")
        self._draw()

    def advance(self, step: LookupStep) -> None:
        self._steps[step.name] = step.state
        self.add_class("-running")
        self._draw()

    def clear(self) -> None:
        self._steps.clear()
        self.remove_class("-running")
        self.update("")

    def _draw(self) -> None:
        text = Text(self._t("progress.title") + "  ", style="bold")
        for position, (name, state) in enumerate(self._steps.items()):
            if position:
                text.append("  ·  ", style="bright_black")
            mark, style = _MARK.get(state, ("·", ""))
            text.append(f"{mark} ", style=style)
            text.append(self._t(f"step.{name}") if self._t.has(f"step.{name}") else name)
        self.update(text)
