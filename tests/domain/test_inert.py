"""The one rule of text shown from outside: `strip_controls` and `inert`, and the domain models that apply it."""

from __future__ import annotations

import json
import unicodedata

import pytest
from pydantic import ValidationError

from lookup.domain.model import Demographics, Identifier, PatientSummary
from lookup.domain.text import DISPLAY_CHARS, NAME_CHARS, inert, strip_controls


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("a\x1b[2Jb", "ab"),  # CSI, removed whole
        ("a\x1b[38;5;196mb", "ab"),
        ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),  # OSC 52 ended by BEL
        ("a\x1b]0;title\x1b\\b", "ab"),  # OSC ended by ST
        ("a\x1bP1$r\x1b\\b", "ab"),  # DCS
        ("a\x9b2Jb", "ab"),  # 8-bit CSI
        ("a\x9d0;title\x9cb", "ab"),  # 8-bit OSC
        ("a\x1b]52;c;never ended", "a"),  # a string left open runs to the end, as a terminal reads it
        ("a\x1bcb", "ab"),  # reset
        ("a\x07\x08\x7f\x85b", "a b"),  # BEL, backspace, DEL gone; NEL is a line break
        ("a\u202eb\u202cc\u2066d\u2069e\u200ff\u200eg\u061ch", "abcdefgh"),
        ("line\r\nbreak\ttab", "line break tab"),
        ("lone \ud800surrogate", "lone surrogate"),
        ("[@click=app.quit] [/] [bold red]x", "[@click=app.quit] [/] [bold red]x"),  # markup is text here
        ("👩\u200d⚕️ bác sĩ", "👩\u200d⚕️ bác sĩ"),  # a zero-width joiner is no control
    ],
)
def test_strip_controls(raw: str, kept: str) -> None:
    assert strip_controls(raw) == kept


def test_inert_keeps_vietnamese_composed_and_cuts_between_letters() -> None:
    name = "Nguyễn Thị Minh Khai"
    assert inert(name) == name
    assert inert(unicodedata.normalize("NFD", name)) == name
    assert inert("  \x1b[2J Đặng Văn Ơn \u202e ") == "Đặng Văn Ơn"
    long = inert("ệ" * (DISPLAY_CHARS + 5))
    assert len(long) == DISPLAY_CHARS and long.endswith("…")
    # Decomposed letters are composed before the cut, and a cut never leaves a mark without its letter.
    assert inert(unicodedata.normalize("NFD", "ễ" * 12), limit=5) == "ễễễễ…"
    assert inert("a" + "\u0301" * 3 + "b", limit=2) == "…"


def test_models_clean_every_path_in_including_the_cache() -> None:
    person = Demographics(family="Nguyễn\x1b]0;x\x07", given="Lan\u202e", address="Hà Nội\x9b2J")
    assert (person.family, person.given, person.address) == ("Nguyễn", "Lan", "Hà Nội")
    assert len(Demographics(family="N" * 1000).family or "") == NAME_CHARS
    stored = {
        "patient": {"id": "p1"},
        "allergies": [{"text": "Penicillin\x1b[2J", "detail": "high\x07"}],
        "appointments": [{"id": "a1", "start": "2025-03-01T08:00:00Z", "status": "booked", "description": "[/]\x9b"}],
    }
    summary = PatientSummary.model_validate_json(json.dumps(stored))
    assert (summary.allergies[0].text, summary.allergies[0].detail) == ("Penicillin", "high")
    assert summary.appointments[0].description == "[/]"


def test_an_identifier_with_controls_is_refused_not_cleaned() -> None:
    with pytest.raises(ValidationError):
        Identifier(system="urn:example:x", value="12\x1b[2J34")
    assert Identifier(system="urn:example:x", value="1234").value == "1234"
