"""Printing attacks: a printer name that tries to be an option of `lp`, and a wristband whose code or file would
carry more than the number."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from lookup.domain.temporary import new_temporary_number, printed_number, temporary_alias
from tests.kiosk.test_print_command import fake_lp, kiosk, ok, refused, scan


@pytest.mark.parametrize("name", ["-oraw", "a b", "ward3;rm", ""])
def test_a_printer_name_is_never_an_option(tmp_path: Path, name: str) -> None:
    bin_dir = fake_lp(tmp_path / "bin")
    result = kiosk(tmp_path, "print", "wristband", new_temporary_number(), "--out", str(tmp_path / "b.png"),
                   f"--printer={name}", "--json", PATH=f"{bin_dir}:/usr/bin:/bin")  # fmt: skip
    assert "not a print queue name" in refused(result)
    assert not (bin_dir / "args").exists()


def test_the_band_carries_the_number_alone_in_its_code_and_nothing_in_its_metadata(tmp_path: Path) -> None:
    number = new_temporary_number()
    png, pdf = tmp_path / "band.png", tmp_path / "band.pdf"
    for out in (png, pdf):
        ok(
            kiosk(
                tmp_path,
                "print",
                "wristband",
                number,
                "--out",
                str(out),
                "--arrival",
                "2026-12-02T08:15+07:00",
                "--json",
            )
        )
    (read,) = scan(tmp_path, png)
    assert read["text"] == printed_number(number), "no alias, no time, nothing clinical in the code"
    metadata = str(PdfReader(pdf).metadata)
    assert number not in metadata and printed_number(number) not in metadata
    assert temporary_alias(number).split()[-2] not in metadata
