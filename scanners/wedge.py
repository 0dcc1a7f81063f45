"""Keyboard-wedge scanners: a USB scanner that "types" what it reads, told apart from a person typing.

A scanner types a whole code in one burst, well under 20 ms between keys; a person types 120-300 ms apart. The
detector buffers keys and decides once a gap longer than `max_gap_s` (or Enter) ends a run: a run of at least
`min_length` keys with every gap under `max_gap_s` is a scan, anything else is typing and is handed back to be
replayed into the focused field. A configured `prefix` (many scanners can send one, e.g. `]Q` or a control
character) marks a scan whatever its timing; it then ends at Enter or after `prefix_timeout_s` of silence. Enter
keys within `terminator_window_s` after a scan (CR/LF, or a suffix sent after a pause) are swallowed with it.

Usage from an app (the detector is a plain class; it never reads a clock itself):

    detector = WedgeDetector(prefix=None)
    def on_key(char, created):             # every printable character, and "\\r" / "\\n" for Enter
        handle(detector.feed(char, created, heard=time.monotonic()))
    every 20 ms: handle(detector.poll(time.monotonic()))
    def handle(events):
        for event in events:
            if event.kind == "scan": interpret_wedge(event.text, trust=...)  # a ScanResult
            else: replay event.text into the focused input

Scanned text is cleaned by `interpret_wedge`: BOM and CR/LF removed, mojibake repaired, and when the text as typed
is no known payload, repairs are tried in turn: a separator mangled by a keyboard layout (`|` arriving as another
symbol), French AZERTY digits (`&é"'(-è_çà`), and the rewriting of a Vietnamese input method (Telex or VNI) left on.
A repair is only kept when it yields a known payload.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierSystems
from lookup.domain.model import ScanKind, ScanResult
from lookup.trust.trust_list import TrustList
from scanners.payloads import PayloadError, ShcChunks, interpret, parse_payload
from scanners.payloads.common import clean_text

ENTER = frozenset({"\r", "\n"})


@dataclass(frozen=True, slots=True)
class WedgeEvent:
    """A decided run of keys: `scan` (from a scanner: interpret it) or `typed` (a person: replay it)."""

    kind: Literal["scan", "typed"]
    text: str
    prefixed: bool = False


@dataclass
class WedgeDetector:
    """Splits a stream of `(char, timestamp)` key events into scanner bursts and human typing. See the module doc."""

    max_gap_s: float = 0.05
    min_length: int = 6
    prefix: str | None = None
    prefix_timeout_s: float = 0.5
    terminator_window_s: float = 0.15
    """Enter keys this soon after a scan are its terminator (CR, LF, or a suffix sent after a pause)."""
    _keys: list[str] = field(default_factory=list)
    _times: list[float] = field(default_factory=list)
    _prefixed: bool = False
    _last: float = 0.0
    _heard: float = 0.0
    _scan_ended_at: float | None = None

    def feed(self, char: str, timestamp: float, *, heard: float | None = None) -> list[WedgeEvent]:
        """Add one key made at `timestamp`; returns the runs this key completed (often none).

        `heard` is when the app got to the key, if later: an app busy with a long burst works through keys made well
        before, and `poll` must not take the time they waited in its queue for the scanner falling quiet.
        """
        events = self._poll(timestamp - self._last)
        self._heard = timestamp if heard is None else heard
        if self._prefixed:
            if char in ENTER:
                return [*events, self._emit_prefixed()]
            self._push(char, timestamp)
            return events
        if char in ENTER:
            after = self._scan_ended_at
            if not self._keys and after is not None and timestamp - after <= self.terminator_window_s:
                self._scan_ended_at = timestamp
                return events
            self._push(char, timestamp)
            return [*events, *self._decide(ended_by_enter=True)]
        self._push(char, timestamp)
        if self.prefix and "".join(self._keys).endswith(self.prefix):
            before = self._keys[: -len(self.prefix)]
            self._keys, self._times = [], []
            self._prefixed = True
            if before:
                events.append(WedgeEvent("typed", "".join(before)))
        return events

    def poll(self, timestamp: float) -> list[WedgeEvent]:
        """Decide a pending run once the keyboard has been quiet long enough; call it every ~20 ms."""
        return self._poll(timestamp - max(self._last, self._heard))

    def _poll(self, quiet: float) -> list[WedgeEvent]:
        if self._prefixed:
            return [self._emit_prefixed()] if quiet > self.prefix_timeout_s else []
        if not self._keys:
            return []
        # The start of a prefix waits a little longer for the rest of it, but not for ever.
        if quiet > self.max_gap_s and (quiet > self.prefix_timeout_s or not self._may_be_prefix()):
            return self._decide(ended_by_enter=False)
        return []

    @property
    def pending(self) -> bool:
        """True while keys are held back, waiting for the decision."""
        return bool(self._keys) or self._prefixed

    def _push(self, char: str, timestamp: float) -> None:
        self._keys.append(char)
        self._times.append(timestamp)
        self._last = timestamp

    def _may_be_prefix(self) -> bool:
        typed = "".join(self._keys)
        return bool(self.prefix) and self.prefix is not None and self.prefix.startswith(typed) and typed != ""

    def _emit_prefixed(self) -> WedgeEvent:
        text = "".join(self._keys)
        self._keys, self._times, self._prefixed = [], [], False
        self._scan_ended_at = self._last
        return WedgeEvent("scan", text, prefixed=True)

    def _decide(self, *, ended_by_enter: bool) -> list[WedgeEvent]:
        keys, times = self._keys, self._times
        self._keys, self._times = [], []
        content = keys[:-1] if ended_by_enter else keys
        gaps = [b - a for a, b in itertools.pairwise(times)]
        burst = len(content) >= self.min_length and all(g <= self.max_gap_s for g in gaps)
        if burst:
            self._scan_ended_at = times[-1]
            return [WedgeEvent("scan", "".join(content))]
        return [WedgeEvent("typed", "".join(keys))]


# --- repairs of what a keyboard layout or an input method did to the scanner's keystrokes ---

_AZERTY_DIGITS = str.maketrans("&é\"'(-è_çà", "1234567890")
_TELEX_MARKS = {"\u0302": "", "\u0306": "w", "\u031b": "w"}
_TELEX_TONES = {"\u0301": "s", "\u0300": "f", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
_VNI_MARKS = {"\u0302": "6", "\u0306": "8", "\u031b": "7"}
_VNI_TONES = {"\u0301": "1", "\u0300": "2", "\u0309": "3", "\u0303": "4", "\u0323": "5"}


def _undo_input_method(text: str, style: Literal["telex", "vni"]) -> str:
    """Type back the ASCII keys an input method turned into Vietnamese letters (`â` -> `aa` or `a6`)."""
    marks, tones = (_TELEX_MARKS, _TELEX_TONES) if style == "telex" else (_VNI_MARKS, _VNI_TONES)
    out: list[str] = []
    for char in text:
        if char in "đĐ":
            out.append(("dd" if style == "telex" else "d9") if char == "đ" else ("DD" if style == "telex" else "D9"))
            continue
        parts = unicodedata.normalize("NFD", char)
        if len(parts) == 1 or not parts[0].isascii():
            out.append(char)
            continue
        base, keys = parts[0], ""
        for mark in parts[1:]:
            if mark in marks:
                # Telex doubles the vowel for a circumflex (aa -> â) and adds w for a breve or horn.
                keys += marks[mark] or (base if style == "telex" else "")
            elif mark in tones:
                keys += tones[mark]
            else:
                keys = ""
                base = char
                break
        out.append(base + keys)
    return "".join(out)


def _mangled_separator(text: str) -> str | None:
    """A `|` that the host's keyboard layout turned into another symbol, recognised by its position and count."""
    match = re.match(r"(?:[0-9]{12}|[0-9]{10}|[A-Z]{2}[0-9]{13})([^\w\s|])", text)
    if match is None:
        return None
    symbol = match.group(1)
    if text.count(symbol) < 3:
        return None
    return text.replace(symbol, "|")


def repairs(text: str) -> Iterator[str]:
    """Candidate readings of a wedge text, most likely first (the text itself is not included)."""
    seen = {text}
    candidates: list[str | None] = [_mangled_separator(text)]
    if not any(c.isdigit() and c.isascii() for c in text):
        azerty = text.translate(_AZERTY_DIGITS)
        candidates += [azerty, _mangled_separator(azerty)]
    styles: tuple[Literal["telex", "vni"], ...] = ("telex", "vni")
    for style in styles:
        undone = _undo_input_method(text, style)
        candidates += [undone, _mangled_separator(undone)]
    for candidate in candidates:
        if candidate is not None and candidate not in seen:
            seen.add(candidate)
            yield candidate


def interpret_wedge(
    text: str,
    *,
    trust: TrustList | None = None,
    systems: IdentifierSystems = DEFAULT_TABLE,
    chunks: ShcChunks | None = None,
) -> ScanResult:
    """The `ScanResult` of a keyboard-wedge scan, with the repairs above; never raises."""
    cleaned = clean_text(text)
    result = interpret(cleaned, format="text", decoder="wedge", trust=trust, systems=systems, chunks=chunks)
    if result.kind is not ScanKind.UNKNOWN:
        return result
    for candidate in repairs(cleaned):
        try:
            parse_payload(candidate, trust=trust, systems=systems)
        except PayloadError:
            continue
        return interpret(candidate, format="text", decoder="wedge", trust=trust, systems=systems, chunks=chunks)
    return result
