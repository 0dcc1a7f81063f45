"""The keyboard-wedge detector: scanner bursts versus typing, prefixes, and repairs of mangled text."""

from __future__ import annotations

from lookup.domain.model import ScanKind
from scanners.wedge import WedgeDetector, WedgeEvent, interpret_wedge
from tests.scanners.test_payloads import BHYT_NEW, CARD_2021


def _type(detector: WedgeDetector, text: str, start: float, gap: float) -> tuple[list[WedgeEvent], float]:
    events: list[WedgeEvent] = []
    now = start
    for char in text:
        now += gap
        events += detector.feed(char, now)
    return events, now


def test_scanner_burst_is_a_scan_and_typing_is_replayed() -> None:
    detector = WedgeDetector()
    typed, now = _type(detector, "an", 0.0, 0.18)
    burst, now = _type(detector, "\ufeff001090001234\r\n", now + 0.3, 0.008)
    later = detector.poll(now + 0.2)
    events = typed + burst + later
    assert [e.kind for e in events] == ["typed", "typed", "scan"]
    assert "".join(e.text for e in events if e.kind == "typed") == "an"
    assert interpret_wedge(events[-1].text).identifiers[0].value == "001090001234"
    assert not detector.pending


def test_enter_sent_after_a_pause_belongs_to_the_scan() -> None:
    detector = WedgeDetector()
    events, now = _type(detector, "0111077012", 0.0, 0.01)
    assert events == []
    (scan,) = detector.poll(now + 0.08)
    assert scan.kind == "scan"
    assert detector.feed("\r", now + 0.1) == [] and detector.feed("\n", now + 0.11) == []
    assert detector.feed("\r", now + 1.5) == [WedgeEvent("typed", "\r")]  # a person pressing Enter later


def test_fast_typist_is_not_a_scanner() -> None:
    detector = WedgeDetector()
    events, now = _type(detector, "nguyen van an\r", 0.0, 0.09)
    events += detector.poll(now + 1)
    assert events and all(e.kind == "typed" for e in events)
    assert "".join(e.text for e in events) == "nguyen van an\r"


def test_burst_without_enter_ends_on_silence() -> None:
    detector = WedgeDetector()
    events, now = _type(detector, CARD_2021, 0.0, 0.012)
    assert events == [] and detector.pending
    assert detector.poll(now + 0.01) == []
    (event,) = detector.poll(now + 0.2)
    assert event.kind == "scan" and interpret_wedge(event.text).kind is ScanKind.CCCD


def test_prefix_marks_a_scan_whatever_the_timing() -> None:
    detector = WedgeDetector(prefix="]Q")
    events, now = _type(detector, "x]Q0111077012", 0.0, 0.2)
    assert [e.kind for e in events] == ["typed"]
    (event,) = detector.feed("\r", now + 0.1)
    assert event == WedgeEvent("scan", "0111077012", prefixed=True)
    events, now = _type(detector, "]Q123", now + 1, 0.01)
    assert detector.poll(now + 1.0) == [WedgeEvent("scan", "123", prefixed=True)]


def test_input_method_and_layout_repairs() -> None:
    telex = BHYT_NEW.replace("aa", "â").replace("ee", "ê").replace("dd", "đ")
    vni = BHYT_NEW.replace("a1", "á").replace("e1", "é").replace("a6", "â")
    assert telex != BHYT_NEW and vni != BHYT_NEW
    for mangled in (telex, vni, BHYT_NEW.replace("|", "~"), CARD_2021.replace("|", "\\")):
        result = interpret_wedge(mangled)
        assert result.kind in (ScanKind.BHYT, ScanKind.CCCD), mangled[:20]
        assert result.decoder == "wedge"
    azerty = CARD_2021.translate(str.maketrans("1234567890", "&é\"'(-è_çà"))
    result = interpret_wedge(azerty)
    assert result.kind is ScanKind.CCCD and result.identifiers[0].value == "094083123451"
    assert interpret_wedge("not a card").kind is ScanKind.UNKNOWN


def test_a_burst_the_app_works_through_slowly_is_one_scan() -> None:
    # A scanner types the whole code in a tenth of a second; the app, busy, gets to each key a millisecond after the
    # one before, a second late, and its 50 ms poll runs between keys all along.
    detector = WedgeDetector()
    text = "shc:/" + "56762959532654603460292540772804336028702864716745" * 22
    events: list[WedgeEvent] = []
    for i, char in enumerate(text):
        heard = 1.0 + i * 0.001
        events += detector.feed(char, i * 0.0001, heard=heard)
        events += detector.poll(heard + 0.0005)
    assert events == [] and detector.pending, "the poll decided a part of a burst still being read"
    (scan,) = detector.feed("\r", len(text) * 0.0001, heard=1.0 + len(text) * 0.001)
    assert scan == WedgeEvent("scan", text)
    # Once the app has read every key, silence ends a burst without Enter as before.
    detector.feed("0", 5.0, heard=5.2)
    assert detector.poll(5.21) == [] and detector.poll(5.3) == [WedgeEvent("typed", "0")]
