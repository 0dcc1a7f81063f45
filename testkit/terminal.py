"""What a served kiosk's terminal shows, read from the bytes the app sends over the page's websocket, and where on the
page a word is drawn, so a browser test can tap a button as a finger does.

The page's terminal (xterm.js) draws on a canvas, so its text is not in the page. The app's output is plain terminal
control text: cursor moves, colours and characters. `TerminalGrid` replays the part of it that places characters
(CSI cursor moves and erases; colours and modes are skipped) onto a grid of the size the page asked for.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

_ESCAPE = re.compile(
    r"\x1b\[([0-9;?<>=]*)([ -/]*)([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[()][0-9A-Za-z]"
    r"|\x1b[=>78]"
)


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


@dataclass
class TerminalGrid:
    """The characters on a terminal of `columns` by `rows` cells after the output fed to it so far."""

    columns: int
    rows: int
    cells: list[list[str]] = field(default_factory=list)
    row: int = 0
    column: int = 0

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.cells = [[" "] * self.columns for _ in range(self.rows)]

    def feed(self, text: str) -> None:
        at = 0
        for match in _ESCAPE.finditer(text):
            self._write(text[at : match.start()])
            at = match.end()
            if match.group(3):
                self._control(match.group(1), match.group(3))
        self._write(text[at:])

    def _control(self, params: str, final: str) -> None:
        if params.startswith("?"):
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        first = numbers[0] if numbers else 0
        if final in "Hf":
            self.row = max((numbers[0] if numbers else 1) - 1, 0)
            self.column = max((numbers[1] if len(numbers) > 1 else 1) - 1, 0)
        elif final == "G":
            self.column = max(first - 1, 0)
        elif final == "A":
            self.row = max(self.row - max(first, 1), 0)
        elif final == "B":
            self.row += max(first, 1)
        elif final == "C":
            self.column += max(first, 1)
        elif final == "D":
            self.column = max(self.column - max(first, 1), 0)
        elif final == "J" and first == 2:
            self.clear()
        elif final == "K" and 0 <= self.row < self.rows:
            line = self.cells[self.row]
            start, end = {0: (self.column, self.columns), 1: (0, self.column + 1)}.get(first, (0, self.columns))
            for x in range(start, min(end, self.columns)):
                line[x] = " "

    def _write(self, text: str) -> None:
        for char in text:
            if char == "\r":
                self.column = 0
            elif char == "\n":
                self.row += 1
            elif char == "\b":
                self.column = max(self.column - 1, 0)
            elif char >= " ":
                width = _width(char)
                if width == 0:
                    if self.column and 0 <= self.row < self.rows and self.column - 1 < self.columns:
                        self.cells[self.row][self.column - 1] += char
                    continue
                if 0 <= self.row < self.rows and self.column < self.columns:
                    self.cells[self.row][self.column] = char
                    if width == 2 and self.column + 1 < self.columns:
                        self.cells[self.row][self.column + 1] = ""
                self.column += width

    def lines(self) -> list[str]:
        return [unicodedata.normalize("NFC", "".join(line)) for line in self.cells]

    def text(self) -> str:
        return "\n".join(self.lines())

    def find(self, pattern: str) -> tuple[int, int] | None:
        """The cell (column, row) at the middle of the first match of the regular expression `pattern`, or None."""
        compiled = re.compile(pattern)
        for y, line in enumerate(self.lines()):
            if match := compiled.search(line):
                return (match.start() + match.end() - 1) // 2, y
        return None


def terminal_size(sent: list[str | bytes]) -> tuple[int, int] | None:
    """The size (columns, rows) the page last asked the app for: its `["resize", {"width", "height"}]` message."""
    size = None
    for frame in sent:
        if isinstance(frame, str) and frame.startswith('["resize"'):
            body = json.loads(frame)[1]
            size = int(body["width"]), int(body["height"])
    return size


def replay(received: list[str | bytes], columns: int, rows: int) -> TerminalGrid:
    """The grid after every output frame the app sent (binary frames are its terminal output)."""
    grid = TerminalGrid(columns, rows)
    # Joined first: a frame may end inside a character or a control sequence.
    grid.feed(b"".join(f for f in received if isinstance(f, bytes)).decode("utf-8", "ignore"))
    return grid
