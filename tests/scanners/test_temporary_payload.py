"""A temporary identity's wristband code read as that identity, and a misread one read as no one."""

from __future__ import annotations

import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import ScanKind
from lookup.domain.temporary import new_temporary_number, printed_number
from scanners.payloads import PayloadError, interpret, parse_payload

TEMPORARY = DEFAULT_TABLE.system(IdentifierKind.TEMPORARY)


@pytest.mark.parametrize("spell", [printed_number, str, str.lower, lambda n: f" {printed_number(n)}\r\n"])
def test_both_spellings_read_as_the_temporary_identifier(spell: object) -> None:
    number = new_temporary_number()
    assert callable(spell)
    reading = parse_payload(spell(number))
    assert reading.kind is ScanKind.TEMPORARY
    assert [(i.system, i.value) for i in reading.identifiers] == [(TEMPORARY, number)]
    assert reading.demographics.is_empty() and not reading.warnings


def test_every_wrong_check_digit_is_refused_and_names_no_one() -> None:
    number = new_temporary_number()
    for digit in "0123456789":
        if digit == number[-1]:
            continue
        wrong = printed_number(number[:-1] + digit)
        with pytest.raises(PayloadError, match="check digit is wrong"):
            parse_payload(wrong)
        result = interpret(wrong)
        assert result.kind is ScanKind.UNKNOWN and result.identifiers == ()
        assert any("check digit" in w for w in result.warnings)


def test_a_short_temporary_number_is_not_read_as_another_kind() -> None:
    result = interpret("TMP-1234-5678")
    assert result.identifiers == () and result.kind is ScanKind.UNKNOWN
